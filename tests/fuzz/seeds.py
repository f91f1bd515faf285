#!/usr/bin/env python3
"""Writes the seed corpus of tests/fuzz/corpus/: small real files from Debian packages
that the tests already use (scripts/install-deps.sh test) and handwritten edge cases.
Run from anywhere: python3 tests/fuzz/seeds.py. Files found by fuzzing (regressions)
live beside the seeds as regress-*, and this script leaves them alone.
For the converter targets the first byte of a seed picks the file name's suffix and the
conversion target (tests/fuzz/convert.h)."""
import base64
import gzip
import hashlib
import io
import os
import tarfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
G = '/usr/share/gocode/src/github.com/gabriel-vasile/mimetype/testdata/'
X = '/usr/share/gocode/src/golang.org/x/image/testdata/'
P = '/usr/share/gocode/src/github.com/jung-kurt/gofpdf/pdf/'


def put(target, name, data, sel=None):
    d = os.path.join(HERE, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), 'wb') as f:
        f.write((bytes([sel]) if sel is not None else b'') + data)


def rd(p, cap=None):
    try:
        b = open(p, 'rb').read()
    except OSError:
        print(f'seeds.py: {p} is missing (scripts/install-deps.sh test); skipped')
        return None
    return b[:cap] if cap else b


def put_file(target, name, path, sel, cap=None, lines=None):
    b = rd(path, cap)
    if b is None:
        return
    if lines:
        b = b'\n'.join(b.split(b'\n')[:lines]) + b'\n'
    put(target, name, b, sel)


def converters():
    # tables: suffix = b % 10 (.csv .tsv .tab .psv .xlsx .xlsm .xltx .xltm .ods .ots),
    # target = (b / 10) % 3 (csv tsv json)
    put_file('convert_table', 'tips.csv', '/usr/share/ggobi/data/tips.csv', 0, lines=40)
    put_file('convert_table', 'skip_empty_lines.csv', '/usr/share/doc/xlsx2csv/examples/test/skip_empty_lines.csv', 10, cap=3000)
    put_file('convert_table', 'tpsa.csv', '/usr/share/RDKit/Data/NCI/first_200.tpsa.csv', 20, lines=30)
    put_file('convert_table', 'clustered.tsv', '/usr/share/RDKit/Contrib/Fastcluster/clustered_parse.tsv', 1, lines=30)
    put('convert_table', 'quotes.csv', b'name,note,value\n"a, b","say ""hi""\nthere",1.5\n,,\n"x",y,-3e5\n# comment\r\nz;w;TRUE\n', 20)
    put('convert_table', 'latin1.csv', b'nom;valeur;date\ncaf\xe9;1,5;2024-01-02\n\xe9t\xe9;2,25;2024-13-40\n', 10)
    put('convert_table', 'ragged.psv', b'a|b|c\n1|2\n3|4|5|6\n|||\n', 3)
    put('convert_table', 'runaway.csv', b'a,b\n"1,2\n3,4\n', 0)
    # text (.txt 0, .json 4, .xml 5); target txt
    for name, f, sel in [('utf8.txt', 'utf8.txt', 0), ('utf16le.txt', 'utf16lebom.txt', 0), ('utf32be.txt', 'utf32bebom.txt', 0),
                         ('ctrl.txt', 'utf8ctrlchars', 0), ('latin1.html', 'html.iso88591.html', 5), ('json.json', 'json.json', 4)]:
        put_file('convert_text', name, G + f, sel)
    put_file('convert_text', 'gpl-head.txt', '/usr/share/common-licenses/GPL-3', 0, cap=2000)
    # images: suffix = b % 9 (.png .jpg .jpeg .jpe .jfif .tif .tiff .btf .tf8); target png
    for f in ['gopher-doc.1bpp.png', 'gopher-doc.2bpp.png', 'yellow_rose-small.png', 'go-turns-two-14x18.png', 'bw-gopher.png']:
        put_file('convert_image', f, X + f, 0)
    for f in ['bw-uncompressed.tiff', 'bw-packbits.tiff', 'bw-deflate.tiff', 'bw-gopher_ccittGroup3.tiff',
              'bw-gopher_ccittGroup4.tiff', 'no_rps.tiff']:
        put_file('convert_image', f, X + f, 5)
    put_file('convert_image', 'jpg.jpg', G + 'jpg.jpg', 1)
    # pdf
    for f in ['Fpdf_SetModificationDate.pdf', 'basic.pdf', 'Fpdf_AddSpotColor.pdf']:
        put_file('convert_pdf', f, P + f, 0)
    put('convert_pdf', 'tiny.pdf', b'%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]'
        b'/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 10 10]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n', 0)
    # workbooks are tables: .xlsx 4 (csv), 14 (tsv); .ods 28 (json)
    put_file('convert_table', 'xlsx.xlsx', G + 'xlsx.xlsx', 4)
    put_file('convert_table', 'xlsx1.xlsx', G + 'xlsx.1.xlsx', 14)
    put_file('convert_table', 'sheets_order.xlsx', '/usr/share/doc/xlsx2csv/examples/test/sheets_order.xlsx', 24)
    put_file('convert_table', 'ods.ods', G + 'ods.ods', 28)
    # office: .docx 0, .odt 8
    put_file('convert_office', 'docx.docx', G + 'docx.docx', 0)
    put_file('convert_office', 'odf.odt', G + 'odf.odf', 8)
    # archives: .zip 0, .tar 1, .tgz 2, .gz 7, .xz 9
    put_file('convert_archive', 'zip.zip', G + 'zip.zip', 0)
    put_file('convert_archive', 'v7.tar', G + 'tar.v7.tar', 1)
    put_file('convert_archive', 'cpio.tar', G + 'cpio.cpio', 1)
    put_file('convert_archive', 'xz.xz', G + 'xz.xz', 9)
    put_file('convert_archive', '7z.zip', G + '7z.7z', 0)
    put_file('convert_archive', 'test-03.tgz', '/usr/share/gocode/src/github.com/alcortesm/tgz/fixtures/test-03.tgz', 2)
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode='w') as t:
        for n, data in [('ok/a.txt', b'hello'), ('../evil.txt', b'x'), ('/abs.txt', b'y'), ('dir/./b', b'z')]:
            i = tarfile.TarInfo(n)
            i.size = len(data)
            t.addfile(i, io.BytesIO(data))
        i = tarfile.TarInfo('link')
        i.type = tarfile.SYMTYPE
        i.linkname = '/etc/passwd'
        t.addfile(i)
    put('convert_archive', 'hostile.tar', b.getvalue(), 1)
    b = io.BytesIO()
    with zipfile.ZipFile(b, 'w', zipfile.ZIP_DEFLATED) as z:
        z.writestr('a/b.txt', 'x' * 5000)
        z.writestr('a/../../c.txt', 'y')
        z.writestr('sub/', '')
    put('convert_archive', 'traversal.zip', b.getvalue(), 0)
    put('convert_archive', 'lone.gz', gzip.compress(b'just one member\n' * 20, mtime=0), 7)
    # chemistry: suffix = b % 16 (.sdf .sd .mol .smi .smiles .inchi .mol2 .pdb .xyz .cml .rxn .rdf
    # .rsmi .cif .mmcif .mcif), target = (b / 16) % 14
    sdf = rd('/usr/share/doc/python3-openbabel/examples/head.sdf')
    if sdf:
        put('convert_chem', 'head2.sdf', b'$$$$\n'.join(sdf.split(b'$$$$\n')[:2]) + b'$$$$\n', 0)
    mol = rd('/usr/share/RDKit/Projects/DbCLI/testData/bzr_q1.mol') or b''
    put('convert_chem', 'bzr_q1.mol', mol, 2 + 16 * 4)
    put_file('convert_chem', 'nci.smi', '/usr/share/RDKit/Data/NCI/first_5K.smi', 3, lines=8)
    put('convert_chem', 'edge.smi', b'C1CC\n[Na+].[Cl-] salt\nc1ccccc1 benzene\n[C@@H](F)(Cl)Br\nC(=O\nXYZ not smiles\n\n', 3 + 16)
    put('convert_chem', 'aspirin.inchi', b'InChI=1S/C9H8O4/c1-6(10)13-8-5-3-2-4-7(8)9(11)12/h2-5H,1H3,(H,11,12)\nInChI=1S/bogus\n', 5)
    put('convert_chem', 'water.xyz', b'3\nwater\nO 0.0 0.0 0.0\nH 0.757 0.586 0.0\nH -0.757 0.586 0.0\n', 8)
    put('convert_chem', 'ala.pdb', b'ATOM      1  N   ALA A   1      11.104   6.134  -6.504  1.00  0.00           N\n'
        b'ATOM      2  CA  ALA A   1      11.639   6.071  -5.147  1.00  0.00           C\n'
        b'ATOM      3  C   ALA A   1      13.149   5.919  -5.130  1.00  0.00           C\nEND\n', 7)
    put_file('convert_chem', 'LaMnO3.cif', '/usr/share/doc/cif2hkl/examples/LaMnO3.cif', 13, cap=3500)
    m = mol.split(b'M  END')[0] + b'M  END\n'
    put('convert_chem', 'hand.rxn', b'$RXN\n\n  hand\n\n  1  1\n$MOL\n' + m + b'$MOL\n' + m, 10)
    put('convert_chem', 'hand.rdf', b'$RDFILE 1\n$DATM    2024\n$RFMT\n$RXN\n\n  hand\n\n  1  1\n$MOL\n' + m + b'$MOL\n' + m +
        b'$DTYPE YIELD\n$DATUM 90\n', 11)
    put('convert_chem', 'rxn.rsmi', b'CC(=O)O.OCC>>CC(=O)OCC.O esterification\n>>\nC>C>\n', 12)


def small_targets():
    for n, v in {
        'folder': '/api/v1/folders/AbCdEfGhIjKlMnOpQrStUv',
        'put-name': '/api/v1/folders/x/files/na%20me%2F..%00%C3%A9.csv',
        'grant': '/api/v1/folders/a/grants/b',
        'link': '/s/tok%2Fen/files/id/content',
        'search': '/api/v1/search?q=aspirin+salicyl*&kind=text&where=temperature:gt:20&where=RXN:YIELD:ge:9e1&limit=5&cursor=12',
        'bad-escape': '/api/v1/files/%zz/content?version=%&q=%4',
        'cursor': '/api/v1/folders?limit=1000&cursor=Zjpub3Rlcy50eHQ&cursor=%3D%3D',
        'structure': '/api/v1/search/structure?smiles=c1ccccc1&mode=similarity&threshold=0.7',
        'empty-seg': '/api/v1/files//content?=&&q&q=',
    }.items():
        put('request_target', n, v)
    b = lambda s: base64.b64encode(s.encode()).decode()
    put('tus_headers', 'ok', f'filename {b("big file.bin")},folder_id {b("AbCdEfGhIjKlMnOpQrStUv")}\n100\n0\n'
        f'sha256 {base64.b64encode(bytes(32)).decode()}\n')
    put('tus_headers', 'empty-values', 'filename,folder_id ,x \n\n-1\nsha256 \n')
    put('tus_headers', 'bad', f'filename {b("a/b")}==,folder_id !!!,,, ,filename {b("x" * 300)}\n18446744073709551616\n00012\nmd5 ' + 'A' * 120 + '\n')
    put('tus_headers', 'nul', 'filename AA==,x AAAA\n1e3\n+1\nsha1 ====\n')
    put('metadata', 'units.json', '{"temperature":{"value":21.5,"unit":"Cel","iri":"http://purl.obolibrary.org/obo/UO_0000027"},'
        '"operator":"Zo\u00eb","ok":true}')
    put('metadata', 'sample.json', '{"$schema":"sample","sample_id":"S-1","material":"NaCl","mass":{"value":1.5,"unit":"g"}}')
    put('metadata', 'sample-ok.json', '{"$schema":"sample","sample_id":"AB-12","operator":"x","temperature":{"value":300,"unit":"K"},'
        '"replicate":3,"verified":false}')
    put('metadata', 'sample-huge.json', '{"$schema":"sample","sample_id":"AB-12","operator":"x","replicate":1e300}')
    put('metadata', 'unknown-schema.json', '{"$schema":"nope","x":1}')
    put('metadata', 'bad.json', '{"a":{"value":[1,2]},"":1,"b":{"unit":"m"},"c":{"value":1,"extra":2},"d":null}')
    put('metadata', 'edge.json', '{"$schema":"Sample!","n":1e999,"s":"\\ud800"}')
    put('search_query', 'words', '\nsalicylic acid* "quoted" NEAR(a b) col:x ^start\ntemperature:gt:0\n')
    put('search_query', 'where-only', '3\n\nRXN:YIELD:ge:9e1\noperator:eq:Zo\u00eb \u00c5ngstr\u00f6m\nsample:lt:Z\n')
    put('smiles', 'aspirin', 'CC(=O)Oc1ccccc1C(=O)O')
    put('smiles', 'smarts', '[#6;R1]~[$([OH]),$(N=O)]')
    put('smiles', 'stereo', 'F/C=C/[C@@H](Cl)Br.[Na+]')
    put('smiles', 'bad', 'C1CC(((=')


def server():
    """Whole requests ($TOKEN, $TOKEN2 and the padded id placeholders are filled in by the target)."""
    fo, fi, up = '$FOLDER'.ljust(24, '_'), '$FILE'.ljust(24, '_'), '$UPLOAD'.ljust(24, '_')
    b = lambda s: base64.b64encode(s.encode()).decode()
    auth = 'Authorization: Bearer $TOKEN\r\n'

    def req(method, path, body=b'', headers='', who=auth):
        body = body.encode() if isinstance(body, str) else body
        h = f'{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n' + who + headers
        if body or method in ('POST', 'PUT', 'PATCH'):
            h += f'Content-Length: {len(body)}\r\n'
        return h.encode() + b'\r\n' + body
    J = 'Content-Type: application/json\r\n'
    mp = ('--XyZXyZ\r\nContent-Disposition: form-data; name="file"; filename="dir/a.csv"\r\nContent-Type: text/csv\r\n\r\n'
          'x,y\n1,2\n\r\n--XyZXyZ\r\nContent-Disposition: form-data; name="other"\r\n\r\nvalue\r\n'
          '--XyZXyZ\r\nContent-Disposition: form-data; name="file"; filename="C:\\\\b.txt"\r\n\r\nb\r\n--XyZXyZ--\r\n')
    seeds = {
        'healthz': req('GET', '/healthz', who=''),
        'folder-create': req('POST', '/api/v1/folders', f'{{"name":"sub","parent_id":"{fo}"}}', J),
        'folder-get': req('GET', f'/api/v1/folders/{fo}?limit=2&cursor=Zjpub3Rlcy50eHQ'),
        'folder-patch': req('PATCH', f'/api/v1/folders/{fo}', '{"name":"lab 2","parent_id":null}', J),
        'file-patch': req('PATCH', f'/api/v1/files/{fi}', '{"metadata":{"temperature":{"value":21.5,"unit":"Cel"},'
                          '"$schema":"sample","sample_id":"AB-1","operator":"x"}}', J),
        'file-get': req('GET', f'/api/v1/files/{fi}'),
        'content-range': req('GET', f'/api/v1/files/{fi}/content?version=1',
                             headers='Range: bytes=2-5,-3\r\nIf-None-Match: "x"\r\nIf-Range: "abc"\r\n'),
        'put-raw': req('PUT', f'/api/v1/folders/{fo}/files/caf%C3%A9%20%25.txt', 'hello\n', 'Content-Type: text/plain; charset=utf-8\r\n'),
        'multipart': req('POST', f'/api/v1/folders/{fo}/files', mp, 'Content-Type: multipart/form-data; boundary=XyZXyZ\r\n'),
        'multipart-noname': req('POST', f'/api/v1/folders/{fo}/files', '--bnd1\r\nContent-Disposition: form-data; name="file"\r\n\r\nx\r\n--bnd1--\r\n',
                                'Content-Type: multipart/form-data; boundary=bnd1\r\n'),
        'tus-create': req('POST', '/api/v1/uploads', headers=f'Tus-Resumable: 1.0.0\r\nUpload-Length: 5\r\n'
                          f'Upload-Metadata: filename {b("t.txt")},folder_id {b(fo)}\r\n'),
        'tus-patch': req('PATCH', f'/api/v1/uploads/{up}', 'abcde', 'Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n'
                         'Content-Type: application/offset+octet-stream\r\nUpload-Checksum: sha256 '
                         + base64.b64encode(hashlib.sha256(b'abcde').digest()).decode() + '\r\n'),
        'tus-head': req('HEAD', f'/api/v1/uploads/{up}', headers='Tus-Resumable: 1.0.0\r\n'),
        'tus-options': req('OPTIONS', '/api/v1/uploads', who=''),
        'search': req('GET', f'/api/v1/search?q=a.csv+x*&where=temperature:ge:1e1&where=operator:eq:Zo%C3%AB&kind=table'
                      f'&folder_id={fo}&cursor=0'),
        'token': req('POST', '/api/v1/tokens', '{"name":"t","scope":"read","expires_in_days":30}', J),
        'login': req('POST', '/api/v1/auth/login', '{"username":"admin","password":"wrong"}', J, who=''),
        'jobs': req('POST', '/api/v1/jobs', f'{{"type":"extract","inputs":["{fi}"],"params":{{}}}}', J),
        'grant': req('POST', f'/api/v1/files/{fi}/grants', '{"user_id":"nobody","role":"viewer"}', J),
        'link': req('POST', f'/api/v1/folders/{fo}/links', '{"expires_at":"2030-01-01T00:00:00Z"}', J),
        'other-user': req('GET', f'/api/v1/files/{fi}', who='Authorization: Bearer $TOKEN2\r\n'),
        'users': req('POST', '/api/v1/users', '{"username":"carol","password":"long enough password","is_admin":false}', J),
        'chunked': (f'PUT /api/v1/folders/{fo}/files/c.txt HTTP/1.1\r\nHost: x\r\n{auth}Transfer-Encoding: chunked\r\n\r\n'
                    '5\r\nhello\r\n0\r\n\r\n').encode(),
        'pipelined': req('GET', '/api/v1/me') + req('GET', '/api/v1/folders') + req('DELETE', '/api/v1/tokens/nope'),
        'short-body': (f'POST /api/v1/folders HTTP/1.1\r\nHost: x\r\n{auth}{J}Content-Length: 100\r\n\r\n{{"name":').encode(),
        'expect': req('PUT', f'/api/v1/folders/{fo}/files/e.bin', 'x' * 10, 'Expect: 100-continue\r\n'),
        'cookie-csrf': req('POST', '/api/v1/folders', '{"name":"c"}', J + 'Cookie: carboy_session=abc\r\nOrigin: http://evil\r\n', who=''),
        'archive': req('GET', f'/api/v1/folders/{fo}/archive'),
        'records': req('GET', f'/api/v1/files/{fi}/records?limit=1'),
    }
    for name, data in seeds.items():
        put('http_server', name, data)


if __name__ == '__main__':
    converters()
    small_targets()
    server()
