#!/usr/bin/env python3
"""Embed files into a C source as a table: embed.py [--root DIR] OUT.c SYMBOL FILE...

Generates `const struct cb_embedded SYMBOL[]` (sorted by name, NUL-terminated data) and
`const size_t SYMBOL_count`. A file's name is its base name, or with --root its path
relative to DIR ("assets/index-1a2b.js"). Used for SQL migrations, the OpenAPI document
and the browser UI (tools/build_web.py), so the binary carries everything it serves.
"""
import os
import sys


def write_table(out, sym, named):
    """named: list of (name, path)."""
    named = sorted(named)
    lines = ['#include <stddef.h>', '#include "util/embedded.h"', '']
    for i, (_, p) in enumerate(named):
        with open(p, 'rb') as f:
            data = f.read()
        body = ','.join(str(b) for b in data + b'\0')
        lines.append(f'static const unsigned char {sym}_{i}[] = {{{body}}};')
    lines.append(f'const struct cb_embedded {sym}[] = {{')
    for i, (name, p) in enumerate(named):
        size = os.path.getsize(p)
        name = name.replace('\\', '\\\\').replace('"', '\\"')
        lines.append(f'  {{"{name}", {sym}_{i}, {size}}},')
    lines.append('  {NULL, NULL, 0}')
    lines.append('};')
    lines.append(f'const size_t {sym}_count = {len(named)};')
    tmp = out + '.tmp'
    with open(tmp, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    os.replace(tmp, out)


def main():
    args = sys.argv[1:]
    root = None
    if args[:1] == ['--root']:
        root, args = args[1], args[2:]
    out, sym, paths = args[0], args[1], args[2:]
    if root:
        named = [(os.path.relpath(p, root), p) for p in paths]
    else:
        named = [(os.path.basename(p), p) for p in paths]
    write_table(out, sym, named)


if __name__ == '__main__':
    main()
