/* Spreadsheets (XLSX and ODS) as tables: the sheets of a workbook in workbook order, each
 * read as rows of cell text for the table converter (table.c). See sheets.c. */
#ifndef CB_SHEETS_H
#define CB_SHEETS_H
#include <stddef.h>

#include "util/err.h"

#define SHEETS_MAX 1024             /* sheets in a workbook */
#define SHEET_ROWS_MAX 1048576      /* rows of a sheet (Excel's and LibreOffice's) */
#define SHEET_COLS_MAX 16384        /* columns (A to XFD) */
#define SHEET_CELLS_MAX (1u << 26)  /* cells a sheet spans, rows times columns */
#define SHEET_TEXT_MAX (1ull << 30) /* bytes of text its cells hold, repeats counted */

struct workbook;

/* How sure (0..100) the converter is that a file starting with head (up to 64 KiB) and
 * named name is a workbook: a zip whose first parts prove an XLSX or ODS, or a zip or an
 * encrypted OLE2 container under a workbook's suffix. */
int sheets_sniff(const unsigned char *head, size_t len, const char *name);
/* Whether head starts as a workbook's container does (zip, OLE2): then the file is read as
 * a workbook, not as delimited text. */
int sheets_container(const unsigned char *head, size_t len);
extern const char *const sheets_suffixes[];

/* Opens the workbook at path: its format, the sheets in workbook order and what reading
 * their cells needs (an XLSX's shared strings, styles and date system). */
cb_err workbook_open(const char *path, struct workbook **out, struct cb_errbuf *eb);
void workbook_close(struct workbook *wb);
const char *workbook_format(const struct workbook *wb); /* "xlsx" or "ods" */
int workbook_sheets(const struct workbook *wb);
const char *workbook_sheet_name(const struct workbook *wb, int i);

/* What reading a sheet calls: begin and end (either may be NULL) around each sheet's rows;
 * row with the cells of a row from column A to its last cell holding a value (empty cells
 * as ""), valid until the next call. A nonzero answer stops the reading (CB_EABORTED). */
struct sheet_sink {
  void *ctx;
  int (*begin)(void *ctx, int sheet);
  int (*row)(void *ctx, const char *const *cells, const size_t *lens, int n);
  int (*end)(void *ctx, int sheet);
};

/* Reads sheet (0-based), or every sheet in workbook order when sheet is -1. A sheet's rows
 * run from its first row holding a value to its last; a row without values between them
 * comes as a row of no cells. Cell text: strings as written; numbers as the shortest text
 * that reads back as the same double; numbers a date or time format shows as ISO 8601
 * (YYYY-MM-DD, HH:MM:SS, YYYY-MM-DDTHH:MM:SS); booleans TRUE and FALSE; errors as
 * written (#N/A). */
cb_err workbook_read(struct workbook *wb, int sheet, const struct sheet_sink *sink, struct cb_errbuf *eb);

#endif
