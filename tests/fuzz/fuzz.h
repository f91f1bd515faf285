/* Shared helpers of the fuzz targets (libFuzzer): a private scratch folder, files in it,
 * and cutting an input into lines. Each target is one .c file defining
 * LLVMFuzzerTestOneInput (and LLVMFuzzerInitialize for what must be set up once). */
#ifndef CB_FUZZ_H
#define CB_FUZZ_H
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A fresh folder for this process (in /dev/shm when there is one: fsync is free there),
 * removed at exit. */
static char fuzz_root[256];

static inline void fuzz_rm_rf(const char *path)
{
  struct stat sb;
  if (lstat(path, &sb))
    return;
  if (S_ISDIR(sb.st_mode)) {
    DIR *d = opendir(path);
    struct dirent *de;
    while (d && (de = readdir(d))) {
      if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
        continue;
      char sub[4096];
      snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
      fuzz_rm_rf(sub);
    }
    if (d)
      closedir(d);
    rmdir(path);
  } else {
    unlink(path);
  }
}

static inline void fuzz_cleanup(void)
{
  if (fuzz_root[0])
    fuzz_rm_rf(fuzz_root);
}

static inline const char *fuzz_scratch(void)
{
  if (fuzz_root[0])
    return fuzz_root;
  const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  snprintf(fuzz_root, sizeof fuzz_root, "%s/carboy-fuzz-XXXXXX", base);
  if (!mkdtemp(fuzz_root)) {
    perror("carboy fuzz: mkdtemp");
    abort();
  }
  atexit(fuzz_cleanup);
  return fuzz_root;
}

static inline void fuzz_write(const char *path, const uint8_t *data, size_t size)
{
  FILE *f = fopen(path, "wb");
  if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f)) {
    perror(path);
    abort();
  }
}

/* The input as a NUL-terminated string (NULs inside end it early, as C strings do). */
static inline char *fuzz_string(const uint8_t *data, size_t size)
{
  char *s = malloc(size + 1);
  if (!s)
    abort();
  memcpy(s, data, size);
  s[size] = '\0';
  return s;
}

/* Cuts s at the first '\n' (in place): returns the rest, or NULL at the end. */
static inline char *fuzz_next_line(char *s)
{
  char *nl = strchr(s, '\n');
  if (!nl)
    return NULL;
  *nl = '\0';
  return nl + 1;
}

#endif
