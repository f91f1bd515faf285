/* What office.c lends other converters that read office containers (the table converter
 * reads XLSX and ODS workbooks). */
#ifndef CB_OFFICE_H
#define CB_OFFICE_H
#include <cjson/cJSON.h>

#include "convert/converter.h"

/* Into result: what an office file states about itself (document_type, title, creator,
 * dates, application, counts: docProps/core.xml and app.xml, or ODF's meta.xml) and, for
 * ODF, its thumbnail as the "preview" artifact (WORKDIR/preview.png); not its text. The zip
 * is read under the limits extract keeps. */
cb_err office_properties(const struct cb_convert_input *in, cJSON *result, struct cb_errbuf *eb);

#endif
