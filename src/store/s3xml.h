/* S3's XML answers, read with expat: the texts of the few elements the S3 store needs
 * (error bodies' Code and Message, UploadId, ETag, a listing's records and its
 * continuation). For s3.c only. */
#ifndef CB_STORE_S3XML_H
#define CB_STORE_S3XML_H
#include <stddef.h>

/* An element whose text is wanted: the first of that name in its scope. The text is
 * entity-decoded UTF-8, cut (at a character's start) to cap - 1 bytes. */
struct s3xml_field {
  const char *name;
  char *out;
  size_t cap;
  int found; /* set when the element was met, even empty */
};

struct s3xml_read {
  struct s3xml_field *top; /* fields outside records: the first of each name */
  int ntop;
  const char *record;      /* a listing's repeated element ("Contents", "Upload"), or NULL */
  struct s3xml_field *rec; /* fields of each record, cleared as each one begins */
  int nrec;
  int (*on_record)(void *ctx); /* as each record ends; non-zero stops the reading */
  void *ctx;
  char root[32]; /* set: the root element's name ("Error" in an error answer) */
};

/* Reads the document data[0..len) into r. 0 when it was read to its end (or on_record
 * stopped it); -1 when it is not well-formed XML (what was read before is kept), holds a
 * DOCTYPE (refused: S3 sends none), or memory ran out. */
int s3xml_parse(const char *data, size_t len, struct s3xml_read *r);

/* The text of the first element named name in data into out: 1 when there is one. */
int s3xml_text(const char *data, size_t len, const char *name, char *out, size_t cap);

/* Whether data is an error answer (<Error>, which S3 may send with a 200); its Code and
 * Message into code and msg either way ("" when absent). */
int s3xml_error(const char *data, size_t len, char *code, size_t code_cap, char *msg, size_t msg_cap);

#endif
