"""Images (TIFF, PNG, JPEG) on real third-party files from Debian packages: Go's image test
data (golang-golang-x-image-dev), checkit-tiff's valid and invalid TIFFs, GTK's and
gdk-pixbuf's test images, xraylarch's example photos and its Pilatus detector frame, and
an elevation model from osmnx's documentation.
Properties are checked against tiffinfo/tiffdump (libtiff-tools) and PIL (python3-pil);
conversions to PNG against PIL's decoding of the same file, pixel for pixel. Stacks, tiles,
big-endian, BigTIFF and compressed layouts are made from real files with tiffcp, ImageJ and
OME-XML descriptions set with tiffset, and broken files (truncated, a corrupted IFD offset,
over-limit dimensions) must fail their own job while the server keeps serving."""
import io
import os
import re
import subprocess

import pytest
import requests
from PIL import Image
from conftest import upload, wait_file


GO = "/usr/share/gocode/src/golang.org/x/image/testdata/"
CHECKIT = "/usr/share/checkit_tiff/"
GTK = "/usr/libexec/installed-tests/gtk-4.0/gdk/image-data/"
PIXBUF = "/usr/libexec/installed-tests/gdk-pixbuf/"
LARCH = "/usr/share/doc/python-xraylarch-doc/examples/"
GRAY16 = GO + "video-001-gray-16bit.tiff"
GRAY8 = GO + "video-001-gray.tiff"
RGB8 = GO + "video-001.tiff"
BARKLA = LARCH + "xraytable/images/Charles_Barkla.jpg"  # 2802 x 3684 grey JPEG, 800 dpi
PILATUS = LARCH + "io/Pilatus.tiff"  # 32-bit signed detector frame, 11 bytes short of its strip
DEM = "/usr/share/doc/python-osmnx-doc/examples/tests/input_data/elevation1.tif"  # int16 GeoTIFF, no-data -32768


def props_of(meta):
    return {p["name"]: p for p in meta["properties"]}


def values(meta):
    return {p["name"]: p["value"] for p in meta["properties"]}


def tiffinfo(path):
    """The first directory as tiffinfo and tiffdump see it."""
    out = subprocess.run(["tiffinfo", path], capture_output=True, text=True, timeout=60).stdout
    first = out.split("TIFF Directory at offset")[1]
    w, h = re.search(r"Image Width: (\d+) Image Length: (\d+)", first).groups()
    bits = re.search(r"Bits/Sample: (\d+)", first)
    spp = re.search(r"Samples/Pixel: (\d+)", first)
    fmt = re.search(r"Sample Format: (.+)", first)
    comp = re.search(r"Compression Scheme: (.+)", first).group(1).strip()
    res = re.search(r"Resolution: ([\d.]+), ([\d.]+)(?: (pixels/cm|pixels/inch))?", first)
    head = subprocess.run(["tiffdump", path], capture_output=True, text=True, timeout=60).stdout.splitlines()[1]
    info = {
        "width": int(w), "height": int(h),
        "bit_depth": int(bits.group(1)) if bits else 1,
        "channels": int(spp.group(1)) if spp else 1,
        "sample_format": {"unsigned integer": "uint", "signed integer": "int", "IEEE floating point": "float"}[
            fmt.group(1).strip()] if fmt else "uint",
        "compression": {"None": "none", "LZW": "lzw", "AdobeDeflate": "deflate", "Deflate": "deflate",
                        "PackBits": "packbits", "CCITT Group 3": "ccitt-g3", "CCITT Group 4": "ccitt-g4",
                        "JPEG": "jpeg"}[comp],
        "tiled": "true" if "Tile Width:" in first else "false",
        "pages": out.count("TIFF Directory at offset"),
        "byte_order": "big-endian" if "<big-endian>" in head else "little-endian",
        "format": "BigTIFF" if "<BigTIFF>" in head else "TIFF",
    }
    if res:
        info["resolution"] = (float(res.group(1)), float(res.group(2)),
                              {"pixels/cm": "px/cm", "pixels/inch": "dpi", None: None}[res.group(3)])
    for tag in ("Software", "DocumentName", "DateTime", "PageName"):
        m = re.search(r"^  " + tag + r": (.+)$", first, re.M)
        if m:
            info[tag] = m.group(1).strip()
    return info


def png_of(r):
    assert r.status_code == 200, r.text
    assert r.content[:8] == b"\x89PNG\r\n\x1a\n"
    return Image.open(io.BytesIO(r.content))


def pil_pixels(path, mode):
    im = Image.open(path)
    im.seek(0)
    return list(im.convert(mode).getdata())


def correlation(a, b):
    n = len(a)
    ma, mb = sum(a) / n, sum(b) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    va = sum((x - ma) ** 2 for x in a)
    vb = sum((y - mb) ** 2 for y in b)
    return cov / (va * vb) ** 0.5


def tiffcp(args, srcs, dst):
    subprocess.run(["tiffcp", *args, *srcs, str(dst)], check=True, capture_output=True, timeout=60)
    return str(dst)


@pytest.mark.parametrize("path", [
    GRAY16, GO + "video-001-16bit.tiff", GO + "video-001-tile-64x64.tiff", GO + "video-001-paletted.tiff",
    GO + "bw-packbits.tiff", GO + "bw-gopher_ccittGroup4.tiff", GO + "blue-purple-pink.lzwcompressed.tiff",
    CHECKIT + "tiffs_should_pass/bigendian/minimal_valid_baseline_BigEndian.tiff",
    CHECKIT + "tiffs_should_pass/minimal_valid_12bit.tiff", CHECKIT + "tiffs_should_pass/minimal_valid_tiled.tiff",
    GTK + "image-float.tiff", PIXBUF + "dpi.tiff",
])
def test_tiff_properties_match_tiffinfo(srv, path):
    f = srv.folder("tiff-" + os.path.basename(path))
    meta = wait_file(srv, upload(srv, f["id"], path)["id"])
    assert meta["status"] == "processed" and meta["kind"] == "image", meta
    p, v, ref = props_of(meta), values(meta), tiffinfo(path)
    for key in ("width", "height", "bit_depth", "channels", "sample_format", "compression", "tiled", "pages",
                "byte_order", "format"):
        assert v[key] == ref[key], (key, v[key], ref[key])
    assert p["width"]["unit"] == "px" and p["height"]["unit"] == "px"
    if "resolution" in ref:
        x, y, unit = ref["resolution"]
        assert abs(v["resolution_x"] - x) < 0.01 and abs(v["resolution_y"] - y) < 0.01
        assert p["resolution_x"].get("unit") == unit
    for tag in ("Software", "DocumentName", "DateTime", "PageName"):
        assert v.get(tag) == ref.get(tag), tag
    # the preview: a PNG of the first page, 256 px at most on the longer side, same shape
    im = png_of(srv.api("GET", f"/files/{meta['id']}/preview"))
    assert max(im.size) <= 256
    scale = min(1, 256 / max(ref["width"], ref["height"]))
    assert abs(im.size[0] - ref["width"] * scale) <= 1 and abs(im.size[1] - ref["height"] * scale) <= 1


def test_16bit_frames_decode_like_their_8bit_versions(srv):
    f = srv.folder("sixteen")
    meta = wait_file(srv, upload(srv, f["id"], GRAY16)["id"])
    assert values(meta)["bit_depth"] == 16
    thumb = png_of(srv.api("GET", f"/files/{meta['id']}/preview"))
    assert thumb.mode == "L" and max(thumb.size) <= 256
    lo, hi = thumb.getextrema()
    assert hi - lo > 200, (lo, hi)
    # full size, 8 bits, and the same picture as the 8-bit version of the frame
    full = png_of(srv.api("GET", f"/files/{meta['id']}/convert?to=png"))
    assert full.size == (150, 103) and full.mode == "L"
    lo, hi = full.getextrema()
    assert lo <= 5 and hi >= 250
    assert correlation(list(full.getdata()), pil_pixels(GRAY8, "L")) > 0.97
    # the 16-bit colour version too: RGB, each channel following the 8-bit original
    rgb = wait_file(srv, upload(srv, f["id"], GO + "video-001-16bit.tiff")["id"])
    full = png_of(srv.api("GET", f"/files/{rgb['id']}/convert?to=png"))
    assert full.mode == "RGB" and full.size == (150, 103)
    ref = pil_pixels(RGB8, "RGB")
    for c in range(3):
        assert correlation([px[c] for px in full.getdata()], [px[c] for px in ref]) > 0.97


def test_signed_16bit_elevations_are_stretched_without_no_data(srv):
    f = srv.folder("dem")
    meta = wait_file(srv, upload(srv, f["id"], DEM)["id"])
    v = values(meta)
    assert (v["bit_depth"], v["sample_format"], v["width"], v["height"]) == (16, "int", 24, 37)
    assert v["GDAL_NODATA"] == "-32768" and v["GeoAsciiParams"] == "WGS 84|"
    raw = list(Image.open(DEM).getdata())
    valid = [i for i, x in enumerate(raw) if x != -32768]
    # the terrain spans about a hundred of 65536 values, and no-data is 11 % of the pixels:
    # only a stretch between percentiles of the valid pixels makes it visible
    assert max(raw[i] for i in valid) - min(raw[i] for i in valid) < 200 and len(valid) < 0.9 * len(raw)
    for im in (png_of(srv.api("GET", f"/files/{meta['id']}/convert?to=png")),
               png_of(srv.api("GET", f"/files/{meta['id']}/preview"))):
        assert im.size == (24, 37) and im.mode == "L"
        out = list(im.getdata())
        shown = [out[i] for i in valid]
        assert min(shown) <= 5 and max(shown) >= 250
        assert correlation(shown, [raw[i] for i in valid]) > 0.99
        assert all(out[i] == 0 for i in range(len(raw)) if raw[i] == -32768)


def test_float_image_draws(srv):
    f = srv.folder("float")
    meta = wait_file(srv, upload(srv, f["id"], GTK + "image-float.tiff")["id"])
    assert values(meta)["sample_format"] == "float" and values(meta)["bit_depth"] == 32
    full = png_of(srv.api("GET", f"/files/{meta['id']}/convert?to=png"))
    assert full.size == (32, 32) and full.mode == "RGB"
    # the float image is the 8-bit one of the same test suite, as floats
    ref = pil_pixels(GTK + "image-unassoc.tiff", "L")
    assert correlation(list(full.convert("L").getdata()), ref) > 0.9


@pytest.mark.parametrize("path", [
    GO + "video-001-tile-64x64.tiff", GO + "video-001-paletted.tiff", GO + "bw-packbits.tiff",
    GO + "bw-gopher_ccittGroup3.tiff", GO + "blue-purple-pink.lzwcompressed.tiff", GRAY8,
    CHECKIT + "tiffs_should_pass/bigendian/minimal_valid_baseline_BigEndian.tiff",
    PIXBUF + "test-images/randomly-modified/valid.1.tiff",
    GO + "video-001.png", GO + "yellow_rose-small-v5.png", GO + "tux.png",
    GTK + "image-palette.png",  # interlaced
    "/usr/share/doc/libpng-dev/examples/pngtest.png",  # interlaced, with alpha
    GO + "go-turns-two-280x360.jpeg", LARCH + "xraytable/images/Marie_Curie.jpg",
])
def test_convert_to_png_matches_pil(srv, path):
    f = srv.folder("conv-" + os.path.basename(path))
    meta = wait_file(srv, upload(srv, f["id"], path)["id"])
    assert meta["status"] == "processed" and meta["kind"] == "image", meta
    out = png_of(srv.api("GET", f"/files/{meta['id']}/convert?to=png"))
    ref = Image.open(path)
    assert out.size == ref.size
    assert list(out.getdata()) == pil_pixels(path, out.mode)


def test_tiff_layouts_decode_alike(srv, tmp_path):
    """The same real pixels in every layout tiffcp writes decode to the same PNG."""
    f = srv.folder("layouts")
    variants = {
        "plain": [], "big-endian": ["-B"], "tiled": ["-t", "-w", "32", "-l", "32"], "lzw": ["-c", "lzw"],
        "deflate-predictor": ["-c", "zip:p2"], "packbits": ["-c", "packbits"], "bigtiff": ["-8"],
        "bigtiff-be-tiled-lzw": ["-8", "-B", "-t", "-c", "lzw"], "strips-of-7": ["-r", "7"],
    }
    for src, extra in ((GRAY16, {}), (RGB8, {"separate": ["-p", "separate"],
                                            "separate-tiled-be": ["-p", "separate", "-t", "-B", "-c", "lzw"]})):
        base = None
        for name, args in {**variants, **extra}.items():
            path = tiffcp(args, [src], tmp_path / f"{name}-{os.path.basename(src)}")
            meta = wait_file(srv, upload(srv, f["id"], path)["id"])
            assert meta["status"] == "processed", (name, meta)
            v, ref = values(meta), tiffinfo(path)
            for key in ("byte_order", "tiled", "compression", "format", "bit_depth", "channels"):
                assert v[key] == ref[key], (name, key, v[key], ref[key])
            pixels = list(png_of(srv.api("GET", f"/files/{meta['id']}/convert?to=png")).getdata())
            base = base or pixels
            assert pixels == base, name
    # YCbCr JPEG-in-TIFF goes through libtiff's RGBA interface: as PIL decodes it
    path = tiffcp(["-c", "jpeg"], [RGB8], tmp_path / "ycbcr-jpeg.tif")
    meta = wait_file(srv, upload(srv, f["id"], path)["id"])
    assert values(meta)["photometric"] == "ycbcr" and values(meta)["compression"] == "jpeg"
    out = png_of(srv.api("GET", f"/files/{meta['id']}/convert?to=png"))
    assert list(out.getdata()) == pil_pixels(path, "RGB")


def test_stack_with_imagej_and_ome_descriptions(srv, tmp_path):
    f = srv.folder("stacks")
    # a 40-page stack of real frames, as ImageJ would describe it
    stack = tiffcp([], [GRAY16] * 20 + [GRAY8] * 20, tmp_path / "stack.tif")
    desc = "ImageJ=1.53t\nimages=40\nchannels=2\nslices=20\nhyperstack=true\nunit=\\u00B5m\n" \
           "spacing=0.25\nfinterval=1.5\nloop=false\n"
    subprocess.run(["tiffset", "-s", "270", desc, stack], check=True)
    subprocess.run(["tiffset", "-s", "282", "4", stack], check=True)  # 4 px per micron
    subprocess.run(["tiffset", "-s", "283", "4", stack], check=True)
    subprocess.run(["tiffset", "-s", "296", "1", stack], check=True)
    meta = wait_file(srv, upload(srv, f["id"], stack, "stack.tif")["id"])
    assert meta["status"] == "processed", meta
    p, v = props_of(meta), values(meta)
    assert v["pages"] == tiffinfo(stack)["pages"] == 40
    assert v["imagej_version"] == "1.53t" and v["imagej_images"] == 40 and v["imagej_channels"] == 2
    assert v["imagej_slices"] == 20 and v["imagej_hyperstack"] == "true" and v["imagej_unit"] == "\u00b5m"
    assert v["imagej_spacing"] == 0.25 and p["imagej_spacing"]["unit"] == "\u00b5m"
    assert v["imagej_finterval"] == 1.5 and p["imagej_finterval"]["unit"] == "s"
    assert v["pixel_size_x"] == 0.25 and p["pixel_size_x"]["unit"] == "\u00b5m"
    assert v["ImageDescription"].startswith("ImageJ=1.53t")
    # the preview is of the first page (16-bit, stretched)
    thumb = png_of(srv.api("GET", f"/files/{meta['id']}/preview"))
    assert thumb.size == (150, 103) and thumb.getextrema()[1] - thumb.getextrema()[0] > 200
    # OME-XML: kept whole (it is small) and its Pixels read
    ome = tiffcp([], [GRAY16] * 3, tmp_path / "stack.ome.tif")
    xml = ('<?xml version="1.0" encoding="UTF-8"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06">'
           '<Image ID="Image:0"><Pixels ID="Pixels:0" DimensionOrder="XYZCT" Type="uint16" SizeX="150" SizeY="103" '
           'SizeZ="3" SizeC="1" SizeT="1" PhysicalSizeX="0.65" PhysicalSizeY="0.65" PhysicalSizeZ="2" '
           'PhysicalSizeZUnit="nm"><Channel ID="Channel:0:0"/><TiffData IFD="0" PlaneCount="3"/></Pixels></Image></OME>')
    subprocess.run(["tiffset", "-s", "270", xml, ome], check=True)
    meta = wait_file(srv, upload(srv, f["id"], ome, "stack.ome.tif")["id"])
    p, v = props_of(meta), values(meta)
    assert v["pages"] == 3 and v["ome_xml"] == xml and "ImageDescription" not in v
    assert (v["ome_size_x"], v["ome_size_y"], v["ome_size_z"], v["ome_size_c"], v["ome_size_t"]) == (150, 103, 3, 1, 1)
    assert v["ome_physical_size_x"] == 0.65 and p["ome_physical_size_x"]["unit"] == "\u00b5m"
    assert v["ome_physical_size_z"] == 2 and p["ome_physical_size_z"]["unit"] == "nm"
    assert v["ome_dimension_order"] == "XYZCT" and v["ome_type"] == "uint16" and v["ome_images"] == 1
    # a directory chain that loops on itself counts once and still reads
    loop = wait_file(srv, upload(srv, f["id"], CHECKIT + "tiffs_should_fail/minimal_IFD_with_endless_loop.tif")["id"])
    assert loop["status"] == "processed" and values(loop)["pages"] == 1


def test_jpeg_and_png_properties(srv):
    f = srv.folder("jpeg-png")
    meta = wait_file(srv, upload(srv, f["id"], BARKLA)["id"])
    p, v = props_of(meta), values(meta)
    ref = Image.open(BARKLA)
    assert (v["width"], v["height"]) == ref.size == (2802, 3684)
    assert v["format"] == "JPEG" and v["channels"] == 1 and v["bit_depth"] == 8 and v["photometric"] == "grey"
    assert (v["resolution_x"], v["resolution_y"]) == ref.info["dpi"] and p["resolution_x"]["unit"] == "dpi"
    thumb = png_of(srv.api("GET", f"/files/{meta['id']}/preview"))
    assert thumb.size == (195, 256) and thumb.mode == "L"
    # the thumbnail is the photo, reduced
    small = Image.open(BARKLA).convert("L").resize(thumb.size, Image.BOX)
    assert correlation(list(thumb.getdata()), list(small.getdata())) > 0.98
    full = png_of(srv.api("GET", f"/files/{meta['id']}/convert?to=png"))
    assert full.size == (2802, 3684)
    # PNG: palette, 16-bit grey with alpha, text chunks and pHYs
    pal = wait_file(srv, upload(srv, f["id"], GO + "yellow_rose-small-v5.png")["id"])
    v = values(pal)
    assert (v["width"], v["height"], v["photometric"], v["channels"], v["bit_depth"]) == (16, 12, "palette", 1, 8)
    assert v["resolution_x"] == 24 and props_of(pal)["resolution_x"]["unit"] == "px/cm"  # 2400 px/m
    assert png_of(srv.api("GET", f"/files/{pal['id']}/preview")).mode == "RGB"
    gray16 = wait_file(srv, upload(srv, f["id"], GTK + "image-gray.png")["id"])
    v = values(gray16)
    assert (v["bit_depth"], v["channels"], v["photometric"]) == (16, 2, "grey+alpha")
    assert png_of(srv.api("GET", f"/files/{gray16['id']}/preview")).mode == "L"
    soft = wait_file(srv, upload(srv, f["id"], GO + "video-001.png")["id"])
    assert values(soft)["Software"] == Image.open(GO + "video-001.png").info["Software"]


def test_broken_images_fail_their_own_job(srv, tmp_path):
    f = srv.folder("broken")
    gray16 = open(GRAY16, "rb").read()
    gtk = open(GTK + "image.tiff", "rb").read()  # its directory comes first, its pixels after
    bad_offset = bytearray(gray16)
    bad_offset[4:8] = b"\xf0\xff\xff\x0f"  # the first IFD's offset, far past the end
    ifd = int.from_bytes(gray16[4:8], "little")
    bad_count = bytearray(gray16)
    bad_count[ifd:ifd + 2] = b"\xff\xff"  # 65535 entries in a directory of 16
    cases = {
        "truncated-before-ifd.tif": gray16[:len(gray16) // 2],
        "truncated-pixels.tif": gtk[:6000],  # its one strip is at 4640..8736
        "corrupt-ifd-offset.tif": bytes(bad_offset),
        "corrupt-ifd-count.tif": bytes(bad_count),
        "pilatus.tif": open(PILATUS, "rb").read(),  # a real detector frame, 11 bytes short
        "ifd-outside.tif": open(CHECKIT + "tiffs_should_fail/minimal_IFD_points_outside_filesize.tif", "rb").read(),
        "huge-width.tif": open(PIXBUF + "test-images/fail/bug780269.tif", "rb").read(),
        "huge-tiles.tiff": open(PIXBUF + "test-images/fail/bug784903-overflow-dimensions.tiff", "rb").read(),
        "huge.png": open(PIXBUF + "test-images/fail/bug793470-crasher.png", "rb").read(),
        "bad-filter.png": open(PIXBUF + "test-images/fail/invalid.2.png", "rb").read(),
        "truncated.png": open(GO + "video-001.png", "rb").read()[:10000],
        "no-quant-table.jpg": open(PIXBUF + "test-images/randomly-modified/bug775697.jpg", "rb").read(),
        "not-really.tif": b"this is no TIFF at all\x00\x01\x02" * 10,
    }
    reasons = {}
    for name, data in cases.items():
        meta = wait_file(srv, srv.put(f["id"], name, data)["id"])
        assert meta["status"] == "failed" and meta["error"], (name, meta)
        reasons[name] = meta["error"]
        assert requests.get(srv.url + "/healthz", timeout=10).status_code == 200
        assert srv.api("GET", f"/files/{meta['id']}/preview").status_code == 404
    assert "TIFF" in reasons["corrupt-ifd-offset.tif"] and "directory" in reasons["corrupt-ifd-offset.tif"]
    assert "strip" in reasons["pilatus.tif"] or "Read error" in reasons["pilatus.tif"], reasons["pilatus.tif"]
    assert "too large" in reasons["huge-width.tif"] and "too large" in reasons["huge.png"]
    assert "not PNG, JPEG or TIFF" in reasons["not-really.tif"]
    # a truncated JPEG still draws (libjpeg fills the rest) and says so
    jpg = wait_file(srv, srv.put(f["id"], "cut.jpg", open(BARKLA, "rb").read()[:200000])["id"])
    assert jpg["status"] == "processed" and "Premature end" in values(jpg)["decode_warning"]
    # and the next good file is processed as if nothing happened
    good = wait_file(srv, upload(srv, f["id"], GRAY16)["id"])
    assert good["status"] == "processed" and values(good)["width"] == 150
