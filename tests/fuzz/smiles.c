/* Structure queries (GET /search/structure?smiles=|smarts=), which a converter process
 * reads through the Open Babel shim: the input as SMILES (chem_query: canonical SMILES,
 * InChIKey, FP2), as SMARTS, and as a pattern matched against a few molecules
 * (chem_match). */
#include "convert/converter.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc, (void)argv;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *q = fuzz_string(data, size);
  struct cb_errbuf eb = {""};
  cJSON *res = cJSON_CreateObject();
  (void)chem_query(q, NULL, res, &eb);
  cJSON_Delete(res);
  res = cJSON_CreateObject();
  eb.msg[0] = '\0';
  if (!chem_query(NULL, q, res, &eb)) {
    cJSON *list = cJSON_CreateArray(), *keys = cJSON_CreateArray();
    static const char *const mols[] = {"CC(=O)Oc1ccccc1C(=O)O", "c1ccccc1", "C[C@H](N)C(=O)O", "[Na+].[Cl-]", "C1CC1"};
    static const char *const ids[] = {"k0", "k1", "k2", "k3", "k4"};
    for (size_t i = 0; i < sizeof mols / sizeof mols[0]; i++) {
      cJSON_AddItemToArray(list, cJSON_CreateString(mols[i]));
      cJSON_AddItemToArray(keys, cJSON_CreateString(ids[i]));
    }
    /* without keys (each read anew), then with them (kept by the matcher's cache) */
    cJSON *m = cJSON_CreateObject();
    (void)chem_match(q, list, NULL, m, &eb);
    cJSON_Delete(m);
    m = cJSON_CreateObject();
    (void)chem_match(q, list, keys, m, &eb);
    cJSON_Delete(m);
    cJSON_Delete(keys);
    cJSON_Delete(list);
  }
  cJSON_Delete(res);
  free(q);
  return 0;
}
