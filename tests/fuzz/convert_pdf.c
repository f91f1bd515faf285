/* Converter: PDF through poppler-glib: page count, metadata, text per page, the thumbnail. */
#include "convert/converter.h"
#define CONVERTER conv_pdf
#include "convert.h"
