/* Converter: PNG, JPEG and TIFF images (libpng, libjpeg, libtiff): properties, ImageJ/OME-XML/Exif metadata, thumbnails, PNG conversion. */
#include "convert/converter.h"
#define CONVERTER conv_image
#include "convert.h"
