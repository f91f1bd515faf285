/* A TIFF's page (the first, or directory N for a page's preview) as rows, read scanline
 * by scanline, strip by strip (planes apart) or one row of tiles at a time, so that memory
 * is bounded by a strip or a row of tiles. Grey, RGB and palette images of 1..32-bit or
 * 64-bit integers and 16/32/64-bit floats are decoded here; anything else libtiff can
 * draw (YCbCr, CMYK, Lab, old-style JPEG, ...) goes through its RGBA interface, also by
 * strip or tile. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/image/image.h"
#include "convert/image/tiff.h"

enum tmode { T_SCANLINE, T_STRIPS_SEPARATE, T_TILES, T_RGBA_STRIPS, T_RGBA_TILES };

struct tsrc {
  TIFF *tif;
  struct terr te;
  enum tmode mode;
  uint32_t w, h, y;
  uint16_t bps, spp, fmt, photo, planar;
  int nc;
  unsigned chan[3];  /* the sample each output channel shows */
  unsigned stride;   /* samples per pixel in one plane's data: spp (contig) or 1 */
  unsigned plane[3]; /* the plane holding each channel (separate) or 0 */
  unsigned nplanes;  /* planes read: 1 (contig) or up to 3 */
  unsigned plane_id[3];
  uint16_t *cmap[3];
  int cmap8;
  float scale;    /* bps < 8 integers: to 0..255 */
  int has_nodata; /* GDAL's no-data value: shown as not a number */
  float nodata;
  unsigned char *band[3]; /* rows of each plane read (a strip, a row of tiles, a scanline) */
  size_t row_bytes;       /* bytes of one row in one band */
  uint32_t band_y0, band_n;
  unsigned char *tile;
  uint32_t tw, tl, rps;
};

static cb_err terror(struct tsrc *t, const char *what, struct cb_errbuf *eb)
{
  cb_errf(eb, "%s at row %u: %s", what, (unsigned)t->y, t->te.msg[0] ? t->te.msg : "libtiff failed");
  return CB_EINVAL;
}

static float half_to_float(uint16_t h)
{
  int e = (h >> 10) & 0x1f, m = h & 0x3ff;
  float v = e == 0 ? ldexpf((float)m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexpf((float)(m | 0x400), e - 25);
  return (h & 0x8000) ? -v : v;
}

/* The sample at index i (in samples from the row's start) of a decoded row. */
static double sample_at(const unsigned char *d, size_t i, unsigned bps, unsigned fmt)
{
  switch (bps) {
  case 8: return fmt == SAMPLEFORMAT_INT ? (double)(int8_t)d[i] : (double)d[i];
  case 16: {
    uint16_t v;
    memcpy(&v, d + 2 * i, 2);
    return fmt == SAMPLEFORMAT_INT ? (double)(int16_t)v : fmt == SAMPLEFORMAT_IEEEFP ? half_to_float(v) : v;
  }
  case 24: /* libtiff leaves 24-bit samples in the host's (little-endian) order */
    return (double)((uint32_t)d[3 * i] | (uint32_t)d[3 * i + 1] << 8 | (uint32_t)d[3 * i + 2] << 16);
  case 32:
  case 64: { /* reading through a union is defined in C11 */
    union {
      uint32_t u32;
      float f32;
      uint64_t u64;
      double f64;
    } v;
    memcpy(&v, d + (size_t)(bps / 8) * i, bps / 8);
    if (bps == 32)
      return fmt == SAMPLEFORMAT_IEEEFP ? v.f32 : fmt == SAMPLEFORMAT_INT ? (double)(int32_t)v.u32 : (double)v.u32;
    return fmt == SAMPLEFORMAT_IEEEFP ? v.f64 : fmt == SAMPLEFORMAT_INT ? (double)(int64_t)v.u64 : (double)v.u64;
  }
  default: { /* packed, most significant bit first */
    uint64_t bit = (uint64_t)i * bps, v = 0;
    size_t byte = (size_t)(bit >> 3);
    unsigned shift = (unsigned)(bit & 7), nbytes = (shift + bps + 7) / 8;
    for (unsigned k = 0; k < nbytes; k++)
      v = v << 8 | d[byte + k];
    v >>= nbytes * 8 - shift - bps;
    return (double)(v & ((1ull << bps) - 1));
  }
  }
}

static int decodable(uint16_t bps, uint16_t fmt)
{
  if (fmt == SAMPLEFORMAT_IEEEFP)
    return bps == 16 || bps == 32 || bps == 64;
  if (fmt == SAMPLEFORMAT_INT)
    return bps == 8 || bps == 16 || bps == 32 || bps == 64;
  if (fmt == SAMPLEFORMAT_UINT || fmt == SAMPLEFORMAT_VOID)
    return (bps >= 1 && bps <= 32) || bps == 64;
  return 0;
}

static cb_err t_row(struct img_src *s, float *row, struct cb_errbuf *eb)
{
  struct tsrc *t = s->impl;
  uint32_t y = t->y;
  if (y >= t->h) {
    cb_errf(eb, "read past the last row");
    return CB_EINVAL;
  }
  if (y >= t->band_y0 + t->band_n || y < t->band_y0) {
    switch (t->mode) {
    case T_SCANLINE:
      if (TIFFReadScanline(t->tif, t->band[0], y, 0) < 0)
        return terror(t, "cannot read the image", eb);
      t->band_y0 = y, t->band_n = 1;
      break;
    case T_STRIPS_SEPARATE: {
      uint32_t y0 = y / t->rps * t->rps, n = t->h - y0 < t->rps ? t->h - y0 : t->rps;
      for (unsigned p = 0; p < t->nplanes; p++) {
        tmsize_t want = (tmsize_t)(t->row_bytes * n);
        tmsize_t got = TIFFReadEncodedStrip(t->tif, TIFFComputeStrip(t->tif, y0, (uint16_t)t->plane_id[p]), t->band[p],
                                            want);
        if (got < want)
          return terror(t, "cannot read a strip", eb);
      }
      t->band_y0 = y0, t->band_n = n;
      break;
    }
    case T_TILES: {
      uint32_t y0 = y / t->tl * t->tl, n = t->h - y0 < t->tl ? t->h - y0 : t->tl;
      size_t trow = (size_t)TIFFTileRowSize64(t->tif);
      for (unsigned p = 0; p < t->nplanes; p++)
        for (uint32_t x = 0, k = 0; x < t->w; x += t->tw, k++) {
          if (TIFFReadTile(t->tif, t->tile, x, y0, 0, (uint16_t)t->plane_id[p]) < 0)
            return terror(t, "cannot read a tile", eb);
          for (uint32_t r = 0; r < n; r++)
            memcpy(t->band[p] + r * t->row_bytes + k * trow, t->tile + r * trow, trow);
        }
      t->band_y0 = y0, t->band_n = n;
      break;
    }
    case T_RGBA_STRIPS: {
      uint32_t y0 = y / t->rps * t->rps, n = t->h - y0 < t->rps ? t->h - y0 : t->rps;
      if (!TIFFReadRGBAStripExt(t->tif, y0, (uint32_t *)(void *)t->band[0], 1))
        return terror(t, "cannot read a strip", eb);
      t->band_y0 = y0, t->band_n = n;
      break;
    }
    case T_RGBA_TILES: {
      uint32_t y0 = y / t->tl * t->tl, n = t->h - y0 < t->tl ? t->h - y0 : t->tl;
      for (uint32_t x = 0, k = 0; x < t->w; x += t->tw, k++) {
        if (!TIFFReadRGBATileExt(t->tif, x, y0, (uint32_t *)(void *)t->tile, 1))
          return terror(t, "cannot read a tile", eb);
        /* the tile comes bottom row first */
        for (uint32_t r = 0; r < n; r++)
          memcpy(t->band[0] + r * t->row_bytes + (size_t)k * t->tw * 4, t->tile + (size_t)(t->tl - 1 - r) * t->tw * 4,
                 (size_t)t->tw * 4);
      }
      t->band_y0 = y0, t->band_n = n;
      break;
    }
    }
  }
  uint32_t r = y - t->band_y0;
  if (t->mode == T_RGBA_STRIPS || t->mode == T_RGBA_TILES) {
    /* RGBA strips come bottom row first too */
    uint32_t rr = t->mode == T_RGBA_STRIPS ? t->band_n - 1 - r : r;
    const unsigned char *d = t->band[0] + (size_t)rr * t->row_bytes;
    for (uint32_t x = 0; x < t->w; x++) {
      uint32_t px;
      memcpy(&px, d + 4 * (size_t)x, 4);
      if (t->nc == 1) {
        row[x] = (float)TIFFGetR(px);
      } else {
        row[3 * x] = (float)TIFFGetR(px);
        row[3 * x + 1] = (float)TIFFGetG(px);
        row[3 * x + 2] = (float)TIFFGetB(px);
      }
    }
    t->y++;
    return CB_OK;
  }
  if (t->photo == PHOTOMETRIC_PALETTE) {
    const unsigned char *d = t->band[0] + (size_t)r * t->row_bytes;
    uint32_t max = 1u << t->bps;
    for (uint32_t x = 0; x < t->w; x++) {
      uint32_t i = (uint32_t)sample_at(d, (size_t)x * t->stride + t->chan[0], t->bps, t->fmt);
      if (i >= max)
        i = 0;
      for (int c = 0; c < 3; c++)
        row[3 * x + (uint32_t)c] = t->cmap8 ? t->cmap[c][i] : (float)(t->cmap[c][i] >> 8);
    }
    t->y++;
    return CB_OK;
  }
  for (int c = 0; c < t->nc; c++) {
    const unsigned char *d = t->band[t->plane[c]] + (size_t)r * t->row_bytes;
    unsigned nc = (unsigned)t->nc, off = t->mode == T_SCANLINE || t->planar == PLANARCONFIG_CONTIG ? t->chan[c] : 0;
    if (t->bps == 8 && t->fmt != SAMPLEFORMAT_INT) {
      for (uint32_t x = 0; x < t->w; x++)
        row[x * nc + (unsigned)c] = d[(size_t)x * t->stride + off];
    } else if (t->bps == 16 && t->fmt != SAMPLEFORMAT_INT && t->fmt != SAMPLEFORMAT_IEEEFP) {
      for (uint32_t x = 0; x < t->w; x++) {
        uint16_t v;
        memcpy(&v, d + 2 * ((size_t)x * t->stride + off), 2);
        row[x * nc + (unsigned)c] = v;
      }
    } else {
      for (uint32_t x = 0; x < t->w; x++)
        row[x * nc + (unsigned)c] = (float)sample_at(d, (size_t)x * t->stride + off, t->bps, t->fmt);
    }
    if (t->has_nodata)
      for (uint32_t x = 0; x < t->w; x++)
        if (row[x * nc + (unsigned)c] == t->nodata)
          row[x * nc + (unsigned)c] = NAN;
    if (t->scale != 1.0f)
      for (uint32_t x = 0; x < t->w; x++)
        row[x * nc + (unsigned)c] *= t->scale;
  }
  t->y++;
  return CB_OK;
}

static void t_close(struct img_src *s)
{
  struct tsrc *t = s ? s->impl : NULL;
  if (!t)
    return;
  if (t->tif)
    TIFFClose(t->tif);
  for (int i = 0; i < 3; i++)
    _TIFFfree(t->band[i]);
  _TIFFfree(t->tile);
  free(t);
  s->impl = NULL;
}

static cb_err too_big(const char *what, uint64_t bytes, struct cb_errbuf *eb)
{
  cb_errf(eb, "reading this image needs %llu MiB for %s, more than the %llu MiB allowed",
          (unsigned long long)(bytes >> 20), what, (unsigned long long)(IMG_MAX_BUFFER >> 20));
  return CB_ETOOBIG;
}

static void *alloc_band(uint64_t bytes)
{
  return bytes && bytes <= IMG_MAX_BUFFER ? _TIFFmalloc((tmsize_t)bytes) : NULL;
}

cb_err tiff_open_src(const char *path, uint32_t page, struct img_src *s, struct cb_errbuf *eb)
{
  struct tsrc *t = calloc(1, sizeof *t);
  if (!t) {
    cb_errf(eb, "out of memory");
    return CB_ENOMEM;
  }
  *s = (struct img_src){.impl = t, .next_row = t_row, .close = t_close};
  cb_err e = CB_EINVAL;
  t->tif = tiff_open(path, &t->te, eb);
  if (!t->tif)
    goto fail;
  TIFF *tif = t->tif;
  /* libtiff walks the chain from the first directory and stops at a loop */
  if (page > 1 && !TIFFSetDirectory(tif, (tdir_t)(page - 1))) {
    cb_errf(eb, "cannot read page %u: %s", (unsigned)page, t->te.msg[0] ? t->te.msg : "the file has no such page");
    goto fail;
  }
  uint16_t comp = COMPRESSION_NONE;
  t->bps = 1, t->spp = 1, t->fmt = SAMPLEFORMAT_UINT, t->planar = PLANARCONFIG_CONTIG;
  TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &t->w);
  TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &t->h);
  TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &t->bps);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &t->spp);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &t->fmt);
  TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &comp);
  TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &t->planar);
  if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &t->photo))
    t->photo = t->spp >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK;
  if ((e = img_check_size(t->w, t->h, eb)))
    goto fail;
  e = CB_EINVAL;
  if (!t->w || !t->h || !t->spp) {
    cb_errf(eb, "page %u has no pixels", (unsigned)(page > 1 ? page : 1));
    goto fail;
  }
  int tiled = TIFFIsTiled(tif);
  if (tiled) {
    TIFFGetField(tif, TIFFTAG_TILEWIDTH, &t->tw);
    TIFFGetField(tif, TIFFTAG_TILELENGTH, &t->tl);
    if (!t->tw || !t->tl || t->tw > IMG_MAX_SIDE || t->tl > IMG_MAX_SIDE) {
      cb_errf(eb, "the tiles are %u x %u px, which cannot be read", (unsigned)t->tw, (unsigned)t->tl);
      goto fail;
    }
  } else {
    TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &t->rps);
    if (!t->rps || t->rps > t->h)
      t->rps = t->h;
  }
  int native = decodable(t->bps, t->fmt) && comp != COMPRESSION_OJPEG &&
               ((t->photo == PHOTOMETRIC_MINISBLACK || t->photo == PHOTOMETRIC_MINISWHITE) ||
                (t->photo == PHOTOMETRIC_RGB && t->spp >= 3) ||
                (t->photo == PHOTOMETRIC_PALETTE && t->bps <= 16 && t->fmt == SAMPLEFORMAT_UINT));
  uint64_t tiles_across = tiled ? ((uint64_t)t->w + t->tw - 1) / t->tw : 0;
  if (!native) {
    char emsg[1024] = "";
    if (!TIFFRGBAImageOK(tif, emsg)) {
      cb_errf(eb, "cannot draw this image (%u-bit %s, photometric %u): %s", (unsigned)t->bps, tiff_format_name(t->fmt),
              (unsigned)t->photo, emsg);
      goto fail;
    }
    s->nc = t->photo == PHOTOMETRIC_MINISBLACK || t->photo == PHOTOMETRIC_MINISWHITE ? 1 : 3;
    if (tiled) {
      t->mode = T_RGBA_TILES;
      t->row_bytes = (size_t)(tiles_across * t->tw * 4);
      uint64_t band = (uint64_t)t->row_bytes * t->tl, tile = (uint64_t)t->tw * t->tl * 4;
      if (band + tile > IMG_MAX_BUFFER) {
        e = too_big("a row of tiles", band + tile, eb);
        goto fail;
      }
      t->band[0] = alloc_band(band);
      t->tile = alloc_band(tile);
    } else {
      t->mode = T_RGBA_STRIPS;
      t->row_bytes = (size_t)t->w * 4;
      uint64_t band = (uint64_t)t->row_bytes * t->rps;
      if (band > IMG_MAX_BUFFER) {
        e = too_big("a strip", band, eb);
        goto fail;
      }
      t->band[0] = alloc_band(band);
    }
    if (!t->band[0] || (tiled && !t->tile))
      goto nomem;
  } else {
    if (t->photo == PHOTOMETRIC_PALETTE) {
      if (!TIFFGetField(tif, TIFFTAG_COLORMAP, &t->cmap[0], &t->cmap[1], &t->cmap[2])) {
        cb_errf(eb, "a palette image without a colormap");
        goto fail;
      }
      size_t n = (size_t)1 << t->bps;
      t->cmap8 = 1;
      for (size_t i = 0; i < n && t->cmap8; i++)
        t->cmap8 = t->cmap[0][i] < 256 && t->cmap[1][i] < 256 && t->cmap[2][i] < 256;
      s->nc = 3;
    } else {
      s->nc = t->photo == PHOTOMETRIC_RGB ? 3 : 1;
      int is_uint = t->fmt == SAMPLEFORMAT_UINT || t->fmt == SAMPLEFORMAT_VOID;
      s->stretch = !(is_uint && t->bps <= 8);
      s->invert = t->photo == PHOTOMETRIC_MINISWHITE;
      t->scale = is_uint && t->bps < 8 ? 255.0f / (float)((1u << t->bps) - 1) : 1.0f;
    }
    if (t->scale == 0.0f)
      t->scale = 1.0f;
    const char *nd;
    size_t ndlen;
    char ndbuf[64], *end;
    if (t->photo != PHOTOMETRIC_PALETTE && tiff_ascii(tif, TIFFTAG_GDAL_NODATA, &nd, &ndlen) && ndlen < sizeof ndbuf) {
      memcpy(ndbuf, nd, ndlen);
      ndbuf[ndlen] = 0;
      double v = strtod(ndbuf, &end);
      if (end != ndbuf && isfinite(v)) {
        t->has_nodata = 1;
        t->nodata = (float)v;
      }
    }
    t->nc = s->nc;
    int separate = t->planar == PLANARCONFIG_SEPARATE && t->spp > 1;
    t->stride = separate ? 1 : t->spp;
    for (int c = 0; c < 3; c++)
      t->chan[c] = s->nc == 3 && t->photo != PHOTOMETRIC_PALETTE ? (unsigned)c : 0;
    if (separate) { /* read only the planes shown */
      t->nplanes = (unsigned)(t->photo == PHOTOMETRIC_PALETTE ? 1 : s->nc);
      for (unsigned p = 0; p < t->nplanes; p++)
        t->plane_id[p] = p, t->plane[p] = p;
    } else {
      t->nplanes = 1;
    }
    if (tiled) {
      t->mode = T_TILES;
      uint64_t trow = (uint64_t)TIFFTileRowSize64(tif), tile = (uint64_t)TIFFTileSize64(tif);
      t->row_bytes = (size_t)(trow * tiles_across);
      uint64_t band = (uint64_t)t->row_bytes * t->tl * t->nplanes;
      if (!trow || !tile || trow * t->tl > tile) {
        cb_errf(eb, "inconsistent tile layout: %s", t->te.msg[0] ? t->te.msg : "bad tile size");
        goto fail;
      }
      if (band + tile > IMG_MAX_BUFFER) {
        e = too_big("a row of tiles", band + tile, eb);
        goto fail;
      }
      for (unsigned p = 0; p < t->nplanes; p++)
        if (!(t->band[p] = alloc_band((uint64_t)t->row_bytes * t->tl)))
          goto nomem;
      if (!(t->tile = alloc_band(tile)))
        goto nomem;
    } else if (separate) {
      t->mode = T_STRIPS_SEPARATE;
      t->row_bytes = (size_t)(((uint64_t)t->w * t->bps + 7) / 8);
      uint64_t band = (uint64_t)t->row_bytes * t->rps;
      if (band * t->nplanes > IMG_MAX_BUFFER) {
        e = too_big("a strip", band * t->nplanes, eb);
        goto fail;
      }
      for (unsigned p = 0; p < t->nplanes; p++)
        if (!(t->band[p] = alloc_band(band)))
          goto nomem;
    } else {
      t->mode = T_SCANLINE;
      uint64_t sl = (uint64_t)TIFFScanlineSize64(tif), need = ((uint64_t)t->w * t->spp * t->bps + 7) / 8;
      if (!sl || sl < need) {
        cb_errf(eb, "inconsistent scanline size: %s", t->te.msg[0] ? t->te.msg : "bad size");
        goto fail;
      }
      t->row_bytes = (size_t)sl;
      if (!(t->band[0] = alloc_band(sl))) {
        e = too_big("a scanline", sl, eb);
        goto fail;
      }
    }
  }
  s->w = t->w, s->h = t->h;
  t->band_y0 = 0, t->band_n = 0;
  return CB_OK;
nomem:
  cb_errf(eb, "out of memory");
  e = CB_ENOMEM;
fail:
  t_close(s);
  return e;
}
