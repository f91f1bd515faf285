/* Converter: Plain text: encoding checks, line/word/character counts and the text artifact. */
#include "convert/converter.h"
#define CONVERTER conv_text
#include "convert.h"
