/* Converter: OOXML and ODF documents: zip members through libarchive, XML through expat, with the entry, size and ratio limits. */
#include "convert/converter.h"
#define CONVERTER conv_office
#include "convert.h"
