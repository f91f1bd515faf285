/* S3's XML answers, read with expat (s3xml.h). */
#include "store/s3xml.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <expat.h>

struct reader {
  struct s3xml_read *r;
  XML_Parser p;
  int depth;               /* of the element open now (the root's is 1) */
  int rec_depth;           /* of the record open now; 0: none */
  struct s3xml_field *cur; /* the field whose text is being collected */
  int cur_depth;
  size_t cur_len;
  int cut; /* cur's text was cut: the rest is dropped */
  int stopped, refused;
};

static void on_start(void *u, const XML_Char *name, const XML_Char **atts)
{
  (void)atts;
  struct reader *x = u;
  struct s3xml_read *r = x->r;
  if (++x->depth == 1)
    snprintf(r->root, sizeof r->root, "%s", name);
  if (x->cur)
    return;
  if (r->record && !x->rec_depth && !strcmp(name, r->record)) {
    x->rec_depth = x->depth;
    for (int i = 0; i < r->nrec; i++)
      r->rec[i].out[0] = '\0', r->rec[i].found = 0;
    return;
  }
  struct s3xml_field *f = x->rec_depth ? r->rec : r->top;
  int n = x->rec_depth ? r->nrec : r->ntop;
  for (int i = 0; i < n; i++)
    if (!f[i].found && !strcmp(f[i].name, name)) {
      f[i].found = 1;
      f[i].out[0] = '\0';
      x->cur = &f[i], x->cur_depth = x->depth, x->cur_len = 0, x->cut = 0;
      break;
    }
}

static void on_end(void *u, const XML_Char *name)
{
  (void)name;
  struct reader *x = u;
  if (x->cur && x->depth == x->cur_depth)
    x->cur = NULL;
  if (x->rec_depth && x->depth == x->rec_depth) {
    x->rec_depth = 0;
    if (x->r->on_record && x->r->on_record(x->r->ctx)) {
      x->stopped = 1;
      XML_StopParser(x->p, XML_FALSE);
    }
  }
  x->depth--;
}

static void on_text(void *u, const XML_Char *t, int len)
{
  struct reader *x = u;
  if (!x->cur || x->cut || len <= 0)
    return;
  size_t room = x->cur->cap - 1 - x->cur_len, n = (size_t)len;
  if (n > room) { /* cut before the continuation bytes of a character */
    n = room;
    while (n && ((unsigned char)t[n] & 0xC0) == 0x80)
      n--;
    x->cut = 1;
  }
  memcpy(x->cur->out + x->cur_len, t, n);
  x->cur_len += n;
  x->cur->out[x->cur_len] = '\0';
}

/* S3 sends no DOCTYPE; refusing one leaves no entity declarations to expand. */
static void on_doctype(void *u, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid, int internal)
{
  (void)name, (void)sysid, (void)pubid, (void)internal;
  struct reader *x = u;
  x->refused = 1;
  XML_StopParser(x->p, XML_FALSE);
}

int s3xml_parse(const char *data, size_t len, struct s3xml_read *r)
{
  r->root[0] = '\0';
  for (int i = 0; i < r->ntop; i++)
    r->top[i].out[0] = '\0', r->top[i].found = 0;
  if (len > INT_MAX)
    return -1;
  struct reader x = {.r = r, .p = XML_ParserCreate(NULL)};
  if (!x.p)
    return -1;
  XML_SetUserData(x.p, &x);
  XML_SetElementHandler(x.p, on_start, on_end);
  XML_SetCharacterDataHandler(x.p, on_text);
  XML_SetStartDoctypeDeclHandler(x.p, on_doctype);
  enum XML_Status st = XML_Parse(x.p, data ? data : "", (int)len, XML_TRUE);
  XML_ParserFree(x.p);
  return st == XML_STATUS_OK || (x.stopped && !x.refused) ? 0 : -1;
}

int s3xml_text(const char *data, size_t len, const char *name, char *out, size_t cap)
{
  struct s3xml_field f = {name, out, cap, 0};
  struct s3xml_read r = {.top = &f, .ntop = 1};
  s3xml_parse(data, len, &r);
  return f.found;
}

int s3xml_error(const char *data, size_t len, char *code, size_t code_cap, char *msg, size_t msg_cap)
{
  struct s3xml_field f[2] = {{"Code", code, code_cap, 0}, {"Message", msg, msg_cap, 0}};
  struct s3xml_read r = {.top = f, .ntop = 2};
  s3xml_parse(data, len, &r);
  return !strcmp(r.root, "Error");
}
