"""Deployment files, validated with what can run here (no Docker engine, no AWS): the ECS
task definitions (the standalone JSON and the one in the CloudFormation template) against
botocore's own ECS API model, the template's references and its promises (health check on
/readyz, versioned encrypted bucket, encrypted volume, a task role limited to the bucket
and the volume, the admin password from Secrets Manager, a log group), the systemd unit
with systemd-analyze, and the Dockerfile's runtime package list against the libraries the
built binary links."""
import copy
import json
import os
import re
import subprocess

import botocore.session
import pytest
import yaml
from botocore.validate import ParamValidator

from conftest import BIN, ROOT

DEPLOY = os.path.join(ROOT, "deploy")
PSEUDO = {"AWS::Region", "AWS::AccountId", "AWS::StackName", "AWS::StackId", "AWS::NoValue", "AWS::Partition",
          "AWS::URLSuffix", "AWS::NotificationARNs"}


# ---- CloudFormation's short-form intrinsics, read as their long forms
class CfnLoader(yaml.SafeLoader):
    pass


def _intrinsic(name):
    def construct(loader, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}
    return construct


for _tag in ("Ref", "Condition"):
    CfnLoader.add_constructor("!" + _tag, _intrinsic(_tag))
for _tag in ("GetAtt", "Sub", "Join", "Select", "If", "Equals", "Not", "And", "Or", "Split", "GetAZs",
             "FindInMap", "ImportValue", "Base64", "Cidr"):
    CfnLoader.add_constructor("!" + _tag, _intrinsic("Fn::" + _tag))


@pytest.fixture(scope="module")
def template():
    with open(os.path.join(DEPLOY, "ecs", "carboy.yaml")) as f:
        return yaml.load(f, Loader=CfnLoader)


def ecs_input(op):
    return botocore.session.get_session().get_service_model("ecs").operation_model(op).input_shape


def validate(params, op):
    report = ParamValidator().validate(params, ecs_input(op))
    return report.generate_report() if report.has_errors() else ""


def walk(node):
    yield node
    if isinstance(node, dict):
        for v in node.values():
            yield from walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v)


def resources_of(template, kind):
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def one(template, kind):
    found = list(resources_of(template, kind).values())
    assert len(found) == 1, (kind, found)
    return found[0]["Properties"]


# ---- the standalone task definition

def test_task_definition_json_is_a_valid_register_task_definition_request():
    with open(os.path.join(DEPLOY, "ecs", "task-definition.json")) as f:
        td = json.load(f)
    assert validate(td, "RegisterTaskDefinition") == ""
    # the validator does catch mistakes: a misspelt key and a wrong type
    bad = copy.deepcopy(td)
    bad["containerDefinitions"][0]["portMapping"] = bad["containerDefinitions"][0].pop("portMappings")
    bad["containerDefinitions"][0]["essential"] = "yes"
    report = validate(bad, "RegisterTaskDefinition")
    assert "portMapping" in report and "essential" in report
    c = td["containerDefinitions"][0]
    env = {e["name"]: e["value"] for e in c["environment"]}
    assert env["CARBOY_STORE"].startswith("s3://")
    assert env["CARBOY_LISTEN"].endswith(":%d" % c["portMappings"][0]["containerPort"])
    assert [s["name"] for s in c["secrets"]] == ["CARBOY_ADMIN_PASSWORD"]
    assert "/readyz" in " ".join(c["healthCheck"]["command"])


# ---- the CloudFormation template

def test_template_references_resolve(template):
    params = set(template.get("Parameters", {}))
    res = set(template["Resources"])
    conds = set(template.get("Conditions", {}))
    names = params | res | PSEUDO
    seen = 0
    for node in walk(template):
        if not isinstance(node, dict):
            continue
        if "Ref" in node and isinstance(node["Ref"], str):
            assert node["Ref"] in names, node
            seen += 1
        if "Fn::GetAtt" in node:
            assert node["Fn::GetAtt"][0] in res, node
            seen += 1
        if "Fn::Sub" in node:
            text = node["Fn::Sub"] if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"][0]
            for var in re.findall(r"\$\{([^}!]+)\}", text):
                assert var.split(".")[0] in names, (var, text)
                seen += 1
        if "Fn::If" in node:
            assert node["Fn::If"][0] in conds, node
        if "Condition" in node and isinstance(node["Condition"], str):
            assert node["Condition"] in conds, node
    for name, r in template["Resources"].items():
        deps = r.get("DependsOn", [])
        for d in [deps] if isinstance(deps, str) else deps:
            assert d in res, (name, d)
        assert re.fullmatch(r"AWS::[A-Za-z0-9]+::[A-Za-z0-9]+", r["Type"]), (name, r["Type"])
    assert seen > 30


def api_form(node, top=True):
    """A CloudFormation ECS property tree in the ECS API's spelling (camelCase keys; values
    of intrinsics replaced by a placeholder string), to validate against botocore's model."""
    special = {"EFSVolumeConfiguration": "efsVolumeConfiguration", "FilesystemId": "fileSystemId", "IAM": "iam"}
    if isinstance(node, dict):
        if len(node) == 1 and (next(iter(node)) in ("Ref",) or next(iter(node)).startswith("Fn::")):
            return "PLACEHOLDER"
        return {special.get(k, k[:1].lower() + k[1:]): api_form(v, False) for k, v in node.items()}
    if isinstance(node, list):
        return [api_form(v, False) for v in node]
    return node


def test_template_task_definition_and_service_are_valid_ecs_requests(template):
    td = api_form(one(template, "AWS::ECS::TaskDefinition"))
    td["cpu"], td["memory"] = "1024", "4096"  # parameters in the template
    for c in td["containerDefinitions"]:
        for e in c["environment"]:
            e["value"] = str(e["value"])
    assert validate(td, "RegisterTaskDefinition") == ""
    svc = api_form(one(template, "AWS::ECS::Service"))
    svc["serviceName"] = "carboy"
    svc["networkConfiguration"]["awsvpcConfiguration"]["subnets"] = ["subnet-1", "subnet-2"]
    svc["desiredCount"] = int(svc["desiredCount"])
    assert validate(svc, "CreateService") == ""
    # one SQLite writer: never two tasks at once
    dc = svc["deploymentConfiguration"]
    assert svc["desiredCount"] == 1 and dc["maximumPercent"] == 100 and dc["minimumHealthyPercent"] == 0


def test_template_keeps_its_promises(template):
    tg = one(template, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert tg["HealthCheckPath"] == "/readyz" and tg["Port"] == 8080 and tg["TargetType"] == "ip"
    bucket = one(template, "AWS::S3::Bucket")
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert one(template, "AWS::EFS::FileSystem")["Encrypted"] is True
    td = one(template, "AWS::ECS::TaskDefinition")
    assert td["Volumes"][0]["EFSVolumeConfiguration"]["TransitEncryption"] == "ENABLED"
    c = td["ContainerDefinitions"][0]
    assert c["MountPoints"][0]["ContainerPath"] == next(
        e["Value"] for e in c["Environment"] if e["Name"] == "CARBOY_DATA")
    secrets = resources_of(template, "AWS::SecretsManager::Secret")
    assert [s["ValueFrom"] for s in c["Secrets"]] == [{"Ref": k} for k in secrets]
    assert [s["Name"] for s in c["Secrets"]] == ["CARBOY_ADMIN_PASSWORD"]
    logs = resources_of(template, "AWS::Logs::LogGroup")
    assert c["LogConfiguration"]["Options"]["awslogs-group"] == {"Ref": next(iter(logs))}
    store = next(e["Value"] for e in c["Environment"] if e["Name"] == "CARBOY_STORE")
    assert store == {"Fn::Sub": "s3://${BlobBucket}?region=${AWS::Region}"}
    # the task role: only the bucket and the file system, no wildcards
    task_role = template["Resources"][td["TaskRoleArn"]["Fn::GetAtt"][0]]["Properties"]
    allowed = []
    for pol in task_role["Policies"]:
        for st in pol["PolicyDocument"]["Statement"]:
            assert st["Effect"] == "Allow"
            acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            assert all("*" not in a for a in acts), acts
            allowed.append(json.dumps(st["Resource"]))
    assert allowed and all("BlobBucket" in r or "DataFileSystem" in r for r in allowed), allowed


def configuration_doc():
    """docs/CONFIGURATION.md: the table of every setting (made from src/config/settings.c)."""
    with open(os.path.join(ROOT, "docs", "CONFIGURATION.md")) as f:
        return f.read()


def test_every_setting_the_deploy_files_use_is_documented():
    table = configuration_doc()
    used = set()
    for path in ("Dockerfile", "carboy.service", "ecs/carboy.yaml", "ecs/task-definition.json"):
        with open(os.path.join(DEPLOY, path)) as f:
            used |= set(re.findall(r"CARBOY_[A-Z_]+", f.read()))
    assert {"CARBOY_DATA", "CARBOY_LISTEN", "CARBOY_STORE", "CARBOY_ADMIN_PASSWORD"} <= used
    missing = sorted(v for v in used if f"`{v}`" not in table)
    assert not missing, missing


# ---- systemd and the container image

def test_systemd_unit_verifies(tmp_path):
    with open(os.path.join(DEPLOY, "carboy.service")) as f:
        unit = f.read()
    assert "ExecStart=/usr/local/bin/carboy serve" in unit
    local = tmp_path / "carboy.service"
    local.write_text(unit.replace("/usr/local/bin/carboy", BIN))
    r = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True, text=True)
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr
    # and it does complain about a broken unit
    (tmp_path / "broken.service").write_text(unit.replace(BIN, "/nonexistent/carboy").replace("[Service]", "[Service]\nBogus=1"))
    r = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "broken.service")], capture_output=True, text=True)
    assert r.returncode != 0 and "Bogus" in r.stderr


def install_list(part):
    with open(os.path.join(ROOT, "scripts", "install-deps.sh")) as f:
        text = f.read()
    body = re.search(r"^%s=\(\n(.*?)^\)" % part, text, re.S | re.M).group(1)
    return {w for line in body.splitlines() if not line.strip().startswith("#") for w in line.split()}


def test_runtime_packages_hold_every_library_the_binary_links():
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]",
                        subprocess.run(["readelf", "-d", BIN], capture_output=True, text=True, check=True).stdout)
    paths = dict(re.findall(r"^\s*(\S+) => (\S+)", subprocess.run(["ldd", BIN], capture_output=True, text=True).stdout, re.M))
    runtime = install_list("runtime")
    essential = {"libc6", "libgcc-s1"}  # in every Debian image
    owners = {}
    for lib in needed:
        if "asan" in lib or "ubsan" in lib or lib.startswith("ld-linux"):
            continue  # the sanitizer build's runtimes; the dynamic loader (libc6)
        real = os.path.realpath(paths[lib])
        out = subprocess.run(["dpkg", "-S", real], capture_output=True, text=True)
        if out.returncode:  # merged /usr: dpkg knows the /lib spelling
            out = subprocess.run(["dpkg", "-S", real.replace("/usr/lib/", "/lib/", 1)], capture_output=True, text=True)
        assert out.returncode == 0, (lib, real, out.stderr)
        owners[lib] = out.stdout.split(":")[0]
    missing = {lib: pkg for lib, pkg in owners.items() if pkg not in runtime | essential}
    assert not missing, missing
    assert len(owners) > 10


def test_dockerfile_shape():
    with open(os.path.join(DEPLOY, "Dockerfile")) as f:
        lines = [l for l in f.read().replace("\\\n", " ").splitlines() if l.strip() and not l.startswith("#")]
    froms = [l for l in lines if l.startswith("FROM ")]
    assert len(froms) == 2 and froms[-1].split()[1] == "debian:12-slim"
    text = "\n".join(lines)
    assert "install-deps.sh build" in text and "install-deps.sh runtime" in text
    user = [l.split()[1] for l in lines if l.startswith("USER ")]
    assert user and user[-1] not in ("root", "0")
    hc = [l for l in lines if l.startswith("HEALTHCHECK ")]
    assert hc and "/readyz" in hc[0]
    entry = [l for l in lines if l.startswith("ENTRYPOINT ")]
    assert entry and json.loads(entry[0].split(None, 1)[1]) == ["/usr/local/bin/carboy"]
    assert "STOPSIGNAL SIGTERM" in lines


def test_every_setting_the_program_reads_is_in_the_configuration_table():
    """One document lists every setting: each CARBOY_* or AWS_* variable the C code reads is in
    docs/CONFIGURATION.md."""
    names = set()
    for d, _, files in os.walk(os.path.join(ROOT, "src")):
        for n in files:
            if n.endswith((".c", ".cpp")):
                with open(os.path.join(d, n), errors="replace") as f:
                    names |= set(re.findall(r'(?:getenv|env_or|env_size|env_flag)\("((?:CARBOY|AWS)_[A-Z0-9_]+)"', f.read()))
    table = configuration_doc()
    assert len(names) > 20
    missing = sorted(v for v in names if f"`{v}`" not in table)
    assert not missing, missing
