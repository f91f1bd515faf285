// Builds web/src into CARBOY_WEB_OUT (the meson build folder, see tools/build_web.py) or
// web/dist. The binary embeds the result; assets/ names carry a content hash, so the
// server lets browsers keep them for a year.
import { defineConfig } from 'vite';

export default defineConfig({
  root: 'src',
  base: '/',
  build: {
    outDir: process.env.CARBOY_WEB_OUT || '../dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    target: 'es2022',
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 1500,
    reportCompressedSize: false,
  },
});
