/* Converter: Chemistry through the Open Babel shim: SDF/MOL/SMILES/InChI/MOL2/PDB/XYZ/CML, RXN/RDF and CIF records, one conversion (run with a small -max_len and a per-input timeout: Open Babel is slow). */
#include "convert/converter.h"
#define CONVERTER conv_structure
#include "convert.h"
