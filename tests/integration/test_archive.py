"""GET /folders/{id}/archive: the folder tree as a streamed zip."""
import io
import os
import zipfile

from conftest import problem


def test_zip_of_a_folder_tree(server):
    top = server.folder("project")
    sub = server.folder("raw data", top["id"])
    deep = server.folder("deep", sub["id"])
    files = {"project/readme.txt": b"hello", "project/raw data/a.bin": os.urandom(200_000),
             "project/raw data/deep/b é.csv": b"x,y\n1,2\n", "project/raw data/empty.dat": b""}
    server.put(top["id"], "readme.txt", files["project/readme.txt"])
    server.put(sub["id"], "a.bin", files["project/raw data/a.bin"])
    server.put(deep["id"], "b é.csv", files["project/raw data/deep/b é.csv"])
    server.put(sub["id"], "empty.dat", b"")
    gone = server.put(sub["id"], "deleted.txt", b"no")
    server.api("DELETE", f"/files/{gone['id']}")
    r = server.api("GET", f"/folders/{top['id']}/archive")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/zip"
    assert "project.zip" in r.headers["Content-Disposition"]
    z = zipfile.ZipFile(io.BytesIO(r.content))
    assert z.testzip() is None
    assert sorted(z.namelist()) == sorted(files)
    for name, data in files.items():
        assert z.read(name) == data


def test_zip_of_a_subfolder_and_empty_folder(server):
    top = server.folder("outer")
    sub = server.folder("inner", top["id"])
    server.put(top["id"], "outside.txt", b"o")
    server.put(sub["id"], "inside.txt", b"i")
    z = zipfile.ZipFile(io.BytesIO(server.api("GET", f"/folders/{sub['id']}/archive").content))
    assert z.namelist() == ["inner/inside.txt"]
    empty = server.folder("nothing")
    z = zipfile.ZipFile(io.BytesIO(server.api("GET", f"/folders/{empty['id']}/archive").content))
    assert z.namelist() == []
    problem(server.api("GET", f"/folders/{'a' * 24}/archive"), 404)
