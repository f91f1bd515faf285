#!/usr/bin/env python3
"""Embed files into a C source as a table: embed.py OUT.c SYMBOL FILE...

Generates `const struct cb_embedded SYMBOL[]` (sorted by base name, NUL-terminated
data) and `const size_t SYMBOL_count`. Used for SQL migrations, the OpenAPI document and
the browser UI, so the binary carries everything it serves.
"""
import os
import sys


def main():
    out, sym, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
    paths = sorted(paths, key=os.path.basename)
    lines = ['#include <stddef.h>', '#include "util/embedded.h"', '']
    for i, p in enumerate(paths):
        data = open(p, 'rb').read()
        body = ','.join(str(b) for b in data + b'\0')
        lines.append(f'static const unsigned char {sym}_{i}[] = {{{body}}};')
    lines.append(f'const struct cb_embedded {sym}[] = {{')
    for i, p in enumerate(paths):
        size = os.path.getsize(p)
        name = os.path.basename(p).replace('\\', '\\\\').replace('"', '\\"')
        lines.append(f'  {{"{name}", {sym}_{i}, {size}}},')
    lines.append('  {NULL, NULL, 0}')
    lines.append('};')
    lines.append(f'const size_t {sym}_count = {len(paths)};')
    with open(out, 'w') as f:
        f.write('\n'.join(lines) + '\n')


if __name__ == '__main__':
    main()
