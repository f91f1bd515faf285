/* Converter: CSV/TSV tables: dialect sniffing, quoting, types and statistics per column; conversion to csv, tsv or json. */
#include "convert/converter.h"
#define CONVERTER conv_table
#include "convert.h"
