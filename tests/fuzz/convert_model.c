/* Converter: model bundles (convert/ml/learn.c): the bundle's JSON, its settings, scaling and training fingerprints, and the model loaded by its library (XGBoost, libsvm, liblinear, or carboy's JSON for knn and naive Bayes). */
#include "convert/converter.h"
#define CONVERTER conv_model
#include "convert.h"
