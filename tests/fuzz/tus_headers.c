/* The tus request headers: Upload-Metadata ("key base64,key base64"; filename and
 * folder_id are what carboy reads, the filename then checked as a file name),
 * Upload-Length / Upload-Offset (whole numbers), and Upload-Checksum's base64 digest
 * decoded into its 64-byte buffer. One header value per line. */
#include "fuzz.h"
#include "http/http.h"
#include "http/parse.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc, (void)argv;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *text = fuzz_string(data, size);
  char *meta = text, *length = fuzz_next_line(meta), *offset = length ? fuzz_next_line(length) : NULL;
  char *checksum = offset ? fuzz_next_line(offset) : NULL;
  if (checksum)
    fuzz_next_line(checksum);

  char filename[CB_NAME_MAX], folder_id[64], small[4];
  if (tus_metadata_get(meta, "filename", filename, sizeof filename) > 0) {
    if (strlen(filename) >= sizeof filename)
      abort();
    (void)cb_name_invalid(filename);
  }
  if (tus_metadata_get(meta, "folder_id", folder_id, sizeof folder_id) > 0 && strlen(folder_id) >= sizeof folder_id)
    abort();
  if (tus_metadata_get(meta, "x", small, sizeof small) > 0 && strlen(small) >= sizeof small)
    abort();
  uint64_t v;
  if (length)
    (void)tus_parse_number(length, &v);
  if (offset)
    (void)tus_parse_number(offset, &v);
  if (checksum) {
    const char *sp = strchr(checksum, ' ');
    unsigned char want[64];
    if (sp && tus_base64_decode(sp + 1, strlen(sp + 1), want, sizeof want) > (long)sizeof want)
      abort();
  }
  free(text);
  return 0;
}
