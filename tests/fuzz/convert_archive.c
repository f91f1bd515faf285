/* Converter: archives (zip, tar plain or compressed, a lone .gz/.bz2/.xz) through
 * libarchive: the listing, and the unpack job's archive_unpack into the work folder with
 * small limits (members are never named from the archive). */
#include <sys/stat.h>

#include "convert/archive/unpack.h"
#include "convert/converter.h"
#define CONVERTER conv_archive
#define FUZZ_AFTER_EXTRACT unpack
#include "convert.h"

/* Relative, and no component is "." or "..". */
static int path_stays_inside(const char *path)
{
  if (!*path || *path == '/')
    return 0;
  for (const char *c = path; *c;) {
    size_t n = strcspn(c, "/");
    if (!n || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
      return 0;
    c += n;
    if (*c == '/')
      c++;
  }
  return 1;
}

static void unpack(const struct cb_convert_input *in)
{
  struct unpack_limits lim = {1u << 20, 200, UNPACK_MAX_RATIO, 64u << 10, 256u << 10};
  struct cb_errbuf eb = {""};
  cJSON *result = cJSON_CreateObject();
  cb_err e = archive_unpack(in, &lim, result, progress, NULL, &eb);
  if (!e) {
    char members[4200];
    struct stat sb;
    snprintf(members, sizeof members, "%s/members", in->workdir);
    if (stat(members, &sb))
      abort(); /* no members file */
    cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(result, "files")) {
      cJSON *p = cJSON_GetObjectItemCaseSensitive(f, "path");
      if (!cJSON_IsString(p) || !path_stays_inside(p->valuestring))
        abort(); /* a member path that leaves the folder it unpacks into */
      double off = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(f, "offset"));
      double size = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(f, "size"));
      if (!(off >= 0 && size >= 0 && off + size <= (double)sb.st_size))
        abort(); /* a member's bytes outside the members file */
    }
  }
  cJSON_Delete(result);
}
