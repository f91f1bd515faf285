#!/usr/bin/env python3
"""Builds the browser UI and embeds it: build_web.py OUT.c SYMBOL WEBDIR DISTDIR

Runs the bundler (`npm run build` in WEBDIR: Vite, web/vite.config.js) with its output in
DISTDIR, then writes every built file into OUT.c as the table SYMBOL, named by its path
below DISTDIR ("index.html", "assets/index-1a2b3c4d.js"). The npm dependencies must be
installed (scripts/install-deps.sh runs `npm ci` in web/)."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from embed import write_table  # noqa: E402


def main():
    out, sym, web, dist = sys.argv[1:5]
    web, dist = os.path.abspath(web), os.path.abspath(dist)
    if not os.path.isdir(os.path.join(web, 'node_modules', 'vite')):
        sys.exit(f'carboy: {web}/node_modules is missing: run scripts/install-deps.sh '
                 f'(or `npm ci` in {web})')
    npm = shutil.which('npm')
    if not npm:
        sys.exit('carboy: npm is not installed: run scripts/install-deps.sh')
    env = dict(os.environ, CARBOY_WEB_OUT=dist)
    r = subprocess.run([npm, 'run', '--silent', 'build', '--', '--logLevel', 'warn'],
                       cwd=web, env=env)
    if r.returncode:
        sys.exit(f'carboy: the browser UI did not build (npm run build exited {r.returncode})')
    named = []
    for d, _, names in os.walk(dist):
        for n in names:
            p = os.path.join(d, n)
            named.append((os.path.relpath(p, dist), p))
    if not any(n == 'index.html' for n, _ in named):
        sys.exit(f'carboy: {dist}/index.html was not built')
    write_table(out, sym, named)


if __name__ == '__main__':
    main()
