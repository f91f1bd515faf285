/* Structure search, the worker's side ("query" and "match" ops of `carboy worker`). The
 * server keeps its matcher processes resident (search/matchers.c): each one reads the
 * query and matches SMARTS patterns against the candidates its fingerprint screen passed.
 * A candidate comes with its key (the record's id): the molecule read from its SMILES is
 * kept, so the next query that screens it in finds it ready (reading SMILES is most of a
 * small molecule's matching). At most CARBOY_MATCHER_CACHE molecules are kept (about 9 KiB
 * each, measured on NCI molecules); when the cache is full it starts again empty, a whole
 * pass of reading at worst. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "convert/chem/ob.h"
#include "convert/converter.h"

#define CACHE_DEFAULT 50000
#define CACHE_MAX 10000000

cb_err chem_query(const char *smiles, const char *smarts, cJSON *result, struct cb_errbuf *eb)
{
  if (chem_ensure_ob(eb))
    return CB_EINVAL;
  if (smarts && !ob_smarts_valid(smarts)) {
    cb_errf(eb, "the SMARTS pattern is not valid");
    return CB_EINVAL;
  }
  /* a SMARTS pattern is screened as the molecule it also reads as, when it does */
  const char *text = smiles ? smiles : smarts;
  ob_mol *m = ob_mol_from_string(text, "smi", eb);
  /* A SMARTS that is not also SMILES gets no fingerprint screen; nor does one whose
   * SMILES reading made radicals ("c1ncnc1": an aromatic ring without its [nH] reads as
   * one that cannot be kekulized) or holds "*": that molecule's fingerprint has bits the
   * molecules the pattern matches lack, and the screen would drop them. A smiles= query
   * with "*" is screened no more (it is matched as a pattern). */
  if ((smarts || strchr(smiles, '*')) && (!m || ob_mol_radicals(m))) {
    ob_mol_free(m);
    eb->msg[0] = '\0';
    return CB_OK;
  }
  if (!m)
    return CB_EINVAL;
  struct cb_errbuf e2;
  char *can = ob_mol_write(m, "can", &e2);
  char *key = ob_mol_write(m, "inchikey", &e2);
  unsigned char fp[OB_FP_BYTES];
  if (can)
    cJSON_AddStringToObject(result, "smiles", can);
  if (key)
    cJSON_AddStringToObject(result, "inchikey", key);
  if (!ob_mol_fp2(m, fp)) {
    char hex[2 * OB_FP_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, fp, OB_FP_BYTES);
    cJSON_AddStringToObject(result, "fp2", hex);
  }
  free(can);
  free(key);
  ob_mol_free(m);
  return CB_OK;
}

/* ---- the molecules kept: open addressing on the key, the SMILES's hash beside it ---- */

struct kept {
  char *key;
  uint64_t smiles_hash; /* a key whose SMILES changed is read again */
  ob_mol *mol;          /* NULL: the SMILES could not be read (kept as such) */
};

/* FNV-1a, 64 bits: two SMILES of one key telling apart */
static uint64_t hash64(const char *s)
{
  uint64_t h = 14695981039346656037ull;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static struct kept *table;
static size_t table_cap, table_used, table_max;

static size_t cache_max(void)
{
  if (!table_max) {
    const char *v = getenv("CARBOY_MATCHER_CACHE");
    long long n = v ? strtoll(v, NULL, 10) : CACHE_DEFAULT;
    table_max = n >= 0 && n <= CACHE_MAX ? (size_t)n : CACHE_DEFAULT;
    if (!table_max)
      table_max = (size_t)-1; /* 0: keep nothing (table_max says "read") */
  }
  return table_max == (size_t)-1 ? 0 : table_max;
}

static void cache_clear(void)
{
  for (size_t i = 0; i < table_cap; i++) {
    free(table[i].key);
    if (table[i].mol)
      ob_mol_free(table[i].mol);
  }
  memset(table, 0, table_cap * sizeof *table);
  table_used = 0;
}

/* The slot of key (empty when it is not kept), or NULL when nothing is kept. */
static struct kept *cache_slot(const char *key)
{
  size_t max = cache_max();
  if (!max)
    return NULL;
  if (!table) {
    size_t cap = 1024;
    while (cap < 2 * max && cap < ((size_t)1 << 40))
      cap *= 2;
    if (!(table = calloc(cap, sizeof *table)))
      return NULL;
    table_cap = cap;
  }
  size_t i = (size_t)hash64(key) & (table_cap - 1);
  while (table[i].key && strcmp(table[i].key, key))
    i = (i + 1) & (table_cap - 1);
  return &table[i];
}

/* The molecule of a candidate, read now or kept from an earlier query; NULL when its
 * SMILES cannot be read. Owned by the cache when kept (*owned 0), else by the caller. */
static ob_mol *candidate(const char *key, const char *smiles, int *owned)
{
  uint64_t h = hash64(smiles);
  struct kept *k = key ? cache_slot(key) : NULL;
  *owned = 0;
  if (k && k->key && k->smiles_hash == h)
    return k->mol;
  ob_mol *m = ob_mol_from_smiles(smiles);
  if (!m && table_used) {
    /* maybe out of memory (Open Babel's allocation failing reads as an unreadable
     * molecule, which would be a silent miss): what is kept goes, and it is read again */
    cache_clear();
    m = ob_mol_from_smiles(smiles);
    k = key ? cache_slot(key) : NULL;
  }
  if (!k) {
    *owned = 1;
    return m;
  }
  if (k->key) { /* the same key, another SMILES */
    if (k->mol)
      ob_mol_free(k->mol);
  } else {
    if (table_used >= cache_max()) {
      cache_clear();
      k = cache_slot(key);
    }
    if (!(k->key = strdup(key))) {
      *owned = 1;
      return m;
    }
    table_used++;
  }
  k->smiles_hash = h;
  k->mol = m;
  return m;
}

cb_err chem_match(const char *pattern, const cJSON *smiles_list, const cJSON *keys, cJSON *result, struct cb_errbuf *eb)
{
  if (chem_ensure_ob(eb))
    return CB_EINVAL;
  ob_pattern *p = ob_pattern_new(pattern);
  if (!p) {
    cb_errf(eb, "the SMARTS pattern is not valid");
    return CB_EINVAL;
  }
  if (!cJSON_IsArray(keys) || cJSON_GetArraySize(keys) != cJSON_GetArraySize(smiles_list))
    keys = NULL;
  cJSON *hits = cJSON_AddArrayToObject(result, "matches");
  const cJSON *it, *key = keys ? keys->child : NULL;
  int i = 0;
  cJSON_ArrayForEach(it, smiles_list)
  {
    if (cJSON_IsString(it)) {
      int owned;
      ob_mol *m = candidate(cJSON_IsString(key) ? key->valuestring : NULL, it->valuestring, &owned);
      if (m && ob_pattern_match(p, m) == 1)
        cJSON_AddItemToArray(hits, cJSON_CreateNumber(i));
      if (owned && m)
        ob_mol_free(m);
    }
    key = key ? key->next : NULL;
    i++;
  }
  ob_pattern_free(p);
  return CB_OK;
}
