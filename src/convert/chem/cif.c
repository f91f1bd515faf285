/* Reading a CIF data block's items: see cif.h. */
#include "convert/chem/cif.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum tok { T_END, T_TAG, T_LOOP, T_KEYWORD, T_VALUE };

struct lexer {
  const char *p, *end, *start;
};

struct token {
  enum tok kind;
  const char *s;
  size_t n;
};

static int space(char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* A ;text field: from after the ; at a line start to the next line starting with ;. */
static struct token text_field(struct lexer *lx, const char *p)
{
  const char *s = p + 1, *q = s, *e = lx->end;
  struct token t = {T_VALUE, s, (size_t)(e - s)};
  lx->p = e;
  while ((q = memchr(q, '\n', (size_t)(e - q)))) {
    if (q + 1 < e && q[1] == ';') {
      t.n = (size_t)(q - s);
      if (t.n && s[t.n - 1] == '\r')
        t.n--;
      lx->p = q + 2;
      break;
    }
    q++;
  }
  return t;
}

/* A 'quoted' or "quoted" string: it ends at its quote followed by white space (or at the
 * line's end, when the file forgot to close it). */
static struct token quoted(struct lexer *lx, const char *p)
{
  char c = *p;
  const char *s = p + 1, *q = s, *e = lx->end;
  while (q < e && *q != '\n' && *q != '\r' && !(*q == c && (q + 1 == e || space(q[1]))))
    q++;
  lx->p = q < e && *q == c ? q + 1 : q;
  return (struct token){T_VALUE, s, (size_t)(q - s)};
}

static struct token bare(struct lexer *lx, const char *p)
{
  static const char *const keywords[] = {"data_", "save_", "global_", "stop_"};
  const char *s = p;
  while (p < lx->end && !space(*p))
    p++;
  lx->p = p;
  struct token t = {T_VALUE, s, (size_t)(p - s)};
  if (*s == '_')
    t.kind = T_TAG;
  else if (t.n == 5 && !strncasecmp(s, "loop_", 5))
    t.kind = T_LOOP;
  for (size_t i = 0; i < sizeof keywords / sizeof keywords[0] && t.kind == T_VALUE; i++)
    if (t.n >= strlen(keywords[i]) && !strncasecmp(s, keywords[i], strlen(keywords[i])))
      t.kind = T_KEYWORD;
  return t;
}

static struct token next_token(struct lexer *lx)
{
  const char *p = lx->p, *e = lx->end;
  for (;;) {
    while (p < e && space(*p))
      p++;
    if (p >= e || *p != '#')
      break;
    while (p < e && *p != '\n' && *p != '\r')
      p++;
  }
  if (p >= e) {
    lx->p = e;
    return (struct token){T_END, e, 0};
  }
  if (*p == ';' && (p == lx->start || p[-1] == '\n' || p[-1] == '\r'))
    return text_field(lx, p);
  if (*p == '\'' || *p == '"')
    return quoted(lx, p);
  return bare(lx, p);
}

#define LOOP_TAGS 64 /* a loop's columns past these are read over, not reported */

/* One loop_: its tags, then its values row by row. Returns the token after it, or T_END
 * when fn asked to stop. */
static struct token one_loop(struct lexer *lx, int number, int (*fn)(void *ctx, const struct cif_item *it), void *ctx)
{
  struct cif_item cols[LOOP_TAGS];
  int ncols = 0, total = 0;
  struct token t = next_token(lx);
  for (; t.kind == T_TAG; t = next_token(lx), total++)
    if (ncols < LOOP_TAGS)
      cols[ncols++] = (struct cif_item){t.s, t.n, NULL, 0, number};
  for (int col = 0; t.kind == T_VALUE && total > 0; t = next_token(lx), col = (col + 1) % total) {
    if (col >= ncols)
      continue;
    cols[col].value = t.s;
    cols[col].len = t.n;
    if (fn(ctx, &cols[col]))
      return (struct token){T_END, lx->end, 0};
  }
  return t;
}

void cif_items(const char *text, size_t len, int (*fn)(void *ctx, const struct cif_item *it), void *ctx)
{
  struct lexer lx = {text, text + len, text};
  int loops = 0;
  struct token t = next_token(&lx);
  while (t.kind != T_END) {
    if (t.kind == T_LOOP) {
      t = one_loop(&lx, ++loops, fn, ctx);
      continue;
    }
    if (t.kind != T_TAG) { /* data_ and the like, or a value out of place */
      t = next_token(&lx);
      continue;
    }
    struct token v = next_token(&lx);
    if (v.kind != T_VALUE) { /* a tag without its value */
      t = v;
      continue;
    }
    struct cif_item it = {t.s, t.n, v.s, v.n, 0};
    if (fn(ctx, &it))
      return;
    t = next_token(&lx);
  }
}

int cif_tag_is(const struct cif_item *it, const char *tag)
{
  size_t n = strlen(tag);
  if (it->taglen != n)
    return 0;
  for (size_t i = 0; i < n; i++) {
    char a = it->tag[i] == '.' ? '_' : it->tag[i];
    if (tolower((unsigned char)a) != tolower((unsigned char)tag[i]))
      return 0;
  }
  return 1;
}

struct get_ctx {
  struct cif_want *want;
  int n;
};

static int take(void *ctx, const struct cif_item *it)
{
  struct get_ctx *g = ctx;
  if (it->loop)
    return 0;
  for (int i = 0; i < g->n; i++) {
    struct cif_want *w = &g->want[i];
    if (w->out[0] || !cif_tag_is(it, w->tag))
      continue;
    if (it->len == 1 && (it->value[0] == '?' || it->value[0] == '.'))
      continue;
    size_t n = it->len < w->cap - 1 ? it->len : w->cap - 1;
    memcpy(w->out, it->value, n);
    w->out[n] = '\0';
  }
  return 0;
}

void cif_get(const char *text, size_t len, struct cif_want *want, int n)
{
  for (int i = 0; i < n; i++)
    want[i].out[0] = '\0';
  struct get_ctx g = {want, n};
  cif_items(text, len, take, &g);
}

int cif_number(const char *value, double *out)
{
  char *end;
  double d = strtod(value, &end);
  if (end == value)
    return -1;
  if (*end == '(') { /* the standard uncertainty */
    end++;
    while (isdigit((unsigned char)*end))
      end++;
    if (*end++ != ')')
      return -1;
  }
  while (space(*end))
    end++;
  if (*end)
    return -1;
  *out = d;
  return 0;
}
