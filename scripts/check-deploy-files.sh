#!/usr/bin/env bash
# Lints the deployment files: scripts, JSON, YAML, IAM least privilege and the scratch Dockerfile.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: check-deploy-files.sh [-h|--help]

Checks the deployment files of this repository and exits non-zero on the first class of
problems found:
  - shellcheck passes on scripts/*.sh, and the scripts are executable;
  - every JSON file under deployment/ parses;
  - docker-compose*.yml and deployment/k8s/*.yaml parse (PyYAML; installed with pip if missing);
  - deployment/iam/kb-policy.json allows only bedrock:Retrieve, bedrock:GetKnowledgeBase,
    bedrock:GetDocumentContent and bedrock:AgenticRetrieveStream on knowledge-base ARNs, and ecr-policy.json is pull-only;
  - Dockerfile.scratch's final stage is FROM scratch, with a numeric non-root USER, EXPOSE 8000,
    a HEALTHCHECK running /bedrock-mcp healthcheck, and STOPSIGNAL SIGTERM;
  - the compose, ECS and Kubernetes files keep their hardening (non-root, read-only, health);
  - every file that puts the server behind a load balancer (docker-compose.ecr.yml, the ECS
    task definition, the Kubernetes ConfigMap, the CloudFormation UserData, the systemd
    env.example) sets BEHIND_PROXY=alb|nginx or all of KEEPALIVE_IDLE_SECS (above the 60 s
    idle timeout), MAX_CONNECTIONS_PER_IP=0 and TRUST_FORWARDED_HEADERS=true, and explicit
    values are right; docker-compose.yml (local) sets none of them;
  - the CloudFormation template: least-privilege server role, port 8000 from the load
    balancer only, /health target group, UserData passing bash -n and shellcheck and
    carrying deployment/systemd/bedrock-mcp.service verbatim;
  - the systemd unit's readiness (Type=notify), settings file and key sandboxing lines
    (scripts/check-systemd-unit.sh checks the rest with the systemd tools).
Also warns (without failing) about variables read in src/ but missing from .env.example.
Runs hadolint on Dockerfile.scratch when it is installed.
EOF
}

case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    "") ;;
    *) echo "error: unknown argument $1 (see --help)" >&2; exit 2 ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
failed=0
fail() { echo "FAIL: $*" >&2; failed=1; }
ok() { echo "ok:   $*"; }

# --- Shell scripts ------------------------------------------------------------------------
if command -v shellcheck >/dev/null 2>&1; then
    if shellcheck scripts/*.sh deployment/systemd/install.sh; then
        ok "shellcheck scripts/*.sh deployment/systemd/install.sh"
    else
        fail "shellcheck scripts/*.sh deployment/systemd/install.sh"
    fi
else
    fail "shellcheck is not installed (apt-get install -y shellcheck)"
fi
for f in scripts/*.sh deployment/systemd/install.sh; do
    [ -x "$f" ] || fail "$f is not executable (chmod +x $f)"
done

# --- JSON -----------------------------------------------------------------------------------
json_count=0
while IFS= read -r -d '' f; do
    json_count=$((json_count + 1))
    python3 -m json.tool "$f" >/dev/null || fail "$f is not valid JSON"
done < <(find deployment -name '*.json' -print0)
[ "$json_count" -gt 0 ] || fail "no JSON files under deployment/"
ok "$json_count JSON files under deployment/ checked"

# --- YAML needs PyYAML -----------------------------------------------------------------------
if ! python3 -c 'import yaml' 2>/dev/null; then
    echo "PyYAML missing; installing it with pip"
    python3 -m pip install --quiet pyyaml || fail "could not install PyYAML (pip install pyyaml)"
fi

if command -v hadolint >/dev/null 2>&1; then
    if hadolint Dockerfile.scratch; then ok "hadolint Dockerfile.scratch"; else fail "hadolint Dockerfile.scratch"; fi
fi

# --- Structure and policy checks ------------------------------------------------------------
python3 - <<'PY' || failed=1
import glob, json, os, re, sys

import yaml

problems = []
def fail(msg): problems.append(msg)
def ok(msg): print("ok:   " + msg)

def listify(x):
    return x if isinstance(x, list) else [x]

def load_yaml_docs(path):
    try:
        with open(path) as f:
            return [d for d in yaml.safe_load_all(f) if d is not None]
    except (OSError, yaml.YAMLError) as e:
        fail(f"{path}: {e}")
        return []

# YAML parses.
yaml_files = sorted(glob.glob("docker-compose*.yml") + glob.glob("deployment/k8s/*.yaml"))
docs = {p: load_yaml_docs(p) for p in yaml_files}
if not yaml_files:
    fail("no docker-compose*.yml or deployment/k8s/*.yaml found")
ok(f"{len(yaml_files)} YAML files parsed")

def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{path}: {e}")
        return {}

def statements(policy, path):
    sts = listify(policy.get("Statement", []))
    for st in sts:
        if "NotAction" in st or "NotResource" in st or "NotPrincipal" in st:
            fail(f"{path}: NotAction/NotResource/NotPrincipal widen access; list what is allowed")
    return sts

# kb-policy: Retrieve, GetKnowledgeBase, GetDocumentContent and AgenticRetrieveStream on knowledge-base ARNs only.
path = "deployment/iam/kb-policy.json"
kb_arn = re.compile(r"^arn:aws[a-z-]*:bedrock:[A-Za-z0-9_-]+:[A-Za-z0-9_]+:knowledge-base/[A-Za-z0-9_]+$")
wanted = {"bedrock:Retrieve", "bedrock:GetKnowledgeBase", "bedrock:GetDocumentContent",
          "bedrock:AgenticRetrieveStream"}
seen = set()
for st in statements(load_json(path), path):
    if st.get("Effect") != "Allow":
        continue
    actions = set(listify(st.get("Action", [])))
    seen |= actions
    if not actions <= wanted:
        fail(f"{path}: allows {sorted(actions - wanted)}; only {sorted(wanted)} are needed")
    for res in listify(st.get("Resource", [])):
        if not kb_arn.match(res):
            fail(f"{path}: resource {res!r} is not a single knowledge-base ARN")
if seen != wanted:
    fail(f"{path}: must allow exactly {sorted(wanted)}, allows {sorted(seen)}")
ok(f"{path} is least privilege")

# user-role-policy: the data-plane calls a user's session signs, nothing else.
path = "deployment/iam/user-role-policy.json"
user_wanted = {"bedrock:Retrieve", "bedrock:GetDocumentContent", "bedrock:AgenticRetrieveStream"}
seen = set()
for st in statements(load_json(path), path):
    if st.get("Effect") == "Allow":
        seen |= set(listify(st.get("Action", [])))
        for res in listify(st.get("Resource", [])):
            if not kb_arn.match(res):
                fail(f"{path}: resource {res!r} is not a single knowledge-base ARN")
if seen != user_wanted:
    fail(f"{path}: must allow exactly {sorted(user_wanted)}, allows {sorted(seen)}")
ok(f"{path} is least privilege")

# ecr-policy: pull only; GetAuthorizationToken is the only action on "*".
path = "deployment/iam/ecr-policy.json"
pull = {"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"}
repo_arn = re.compile(r"^arn:aws[a-z-]*:ecr:[A-Za-z0-9_-]+:[A-Za-z0-9_]+:repository/[a-z0-9._/-]+$")
for st in statements(load_json(path), path):
    if st.get("Effect") != "Allow":
        continue
    actions = set(listify(st.get("Action", [])))
    resources = listify(st.get("Resource", []))
    if actions == {"ecr:GetAuthorizationToken"}:
        continue
    if not actions <= pull:
        fail(f"{path}: allows {sorted(actions - pull)}; the host only pulls")
    for res in resources:
        if not repo_arn.match(res):
            fail(f"{path}: resource {res!r} is not a repository ARN")
ok(f"{path} is pull-only")

# trust policy: EC2 assumes the role.
path = "deployment/iam/trust-policy.json"
sts = statements(load_json(path), path)
if not any(st.get("Principal", {}).get("Service") == "ec2.amazonaws.com"
           and "sts:AssumeRole" in listify(st.get("Action", [])) for st in sts):
    fail(f"{path}: must let ec2.amazonaws.com sts:AssumeRole")
ok(f"{path} trusts EC2")

# Dockerfile.scratch: final stage.
path = "Dockerfile.scratch"
try:
    text = open(path).read()
except OSError as e:
    fail(f"{path}: {e}")
    text = ""
lines, cur = [], ""
for raw in text.splitlines():
    s = raw.strip()
    if not cur and (not s or s.startswith("#")):
        continue
    if cur and s.startswith("#"):
        continue
    if s.endswith("\\"):
        cur += s[:-1] + " "
        continue
    lines.append(cur + s)
    cur = ""
froms = [i for i, l in enumerate(lines) if l.split()[0].upper() == "FROM"]
if not froms:
    fail(f"{path}: no FROM")
else:
    final = lines[froms[-1]:]
    base = final[0].split()
    base = [w for w in base[1:] if not w.startswith("--")]
    if not base or base[0] != "scratch":
        fail(f"{path}: final stage must be FROM scratch, is {final[0]!r}")
    def instr(name):
        return [l.split(None, 1)[1] if len(l.split(None, 1)) > 1 else "" for l in final
                if l.split()[0].upper() == name]
    users = instr("USER")
    m = re.fullmatch(r"(\d+)(?::(\d+))?", users[-1].strip()) if users else None
    if not m or int(m.group(1)) == 0:
        fail(f"{path}: final stage needs a numeric non-root USER (e.g. 65532:65532), has {users}")
    if not any("8000" in e.split() for e in instr("EXPOSE")):
        fail(f"{path}: final stage must EXPOSE 8000")
    hc = instr("HEALTHCHECK")
    if not hc or not re.search(r"CMD\s.*/bedrock-mcp\W+healthcheck", hc[-1]):
        fail(f"{path}: final stage needs HEALTHCHECK ... CMD [\"/bedrock-mcp\", \"healthcheck\"]")
    if [s.strip() for s in instr("STOPSIGNAL")][-1:] != ["SIGTERM"]:
        fail(f"{path}: final stage needs STOPSIGNAL SIGTERM")
    if not any("/bedrock-mcp" in e for e in instr("ENTRYPOINT")):
        fail(f"{path}: final stage needs ENTRYPOINT [\"/bedrock-mcp\"]")
ok(f"{path} final stage checked")

# Compose: hardening and the self-check.
for path in ("docker-compose.yml", "docker-compose.ecr.yml"):
    d = (docs.get(path) or [{}])[0] or {}
    svc = (d.get("services") or {}).get("bedrock-mcp")
    if not isinstance(svc, dict):
        fail(f"{path}: no service named bedrock-mcp")
        continue
    if svc.get("container_name") != "bedrock-mcp-server":
        fail(f"{path}: container_name must be bedrock-mcp-server")
    if svc.get("read_only") is not True:
        fail(f"{path}: read_only: true is missing")
    if "no-new-privileges:true" not in (svc.get("security_opt") or []):
        fail(f"{path}: security_opt no-new-privileges:true is missing")
    if "ALL" not in (svc.get("cap_drop") or []):
        fail(f"{path}: cap_drop [ALL] is missing")
    if "/bedrock-mcp" not in (svc.get("healthcheck") or {}).get("test", []):
        fail(f"{path}: healthcheck must run /bedrock-mcp healthcheck")
    if path.endswith("ecr.yml") and svc.get("restart") != "unless-stopped":
        fail(f"{path}: restart: unless-stopped is missing")
ok("compose files checked")

# ECS task definition.
path = "deployment/ecs/task-definition.json"
td = load_json(path)
for c in td.get("containerDefinitions", []):
    if c.get("healthCheck", {}).get("command") != ["CMD", "/bedrock-mcp", "healthcheck"]:
        fail(f"{path}: healthCheck must be [\"CMD\", \"/bedrock-mcp\", \"healthcheck\"]")
    if c.get("readonlyRootFilesystem") is not True:
        fail(f"{path}: readonlyRootFilesystem must be true")
    if str(c.get("user", "0")).split(":")[0] in ("0", "root"):
        fail(f"{path}: user must be a non-root uid")
    if not any(p.get("containerPort") == 8000 for p in c.get("portMappings", [])):
        fail(f"{path}: containerPort 8000 is missing")
    env = {e.get("name"): e.get("value", "") for e in c.get("environment", [])}
    metrics = env.get("METRICS_ADDR")
    if metrics:
        host, _, port = metrics.rpartition(":")
        mapped = {p.get("containerPort") for p in c.get("portMappings", [])}
        if not port.isdigit() or int(port) in mapped or int(port) == 8000:
            fail(f"{path}: METRICS_ADDR {metrics!r} must be its own port, outside portMappings")
        if host not in ("127.0.0.1", "[::1]"):
            fail(f"{path}: METRICS_ADDR {metrics!r} should stay on the task's loopback")
ok(f"{path} checked")

# Load-balancer-safe: every file that puts the server behind a load balancer or proxy keeps
# idle connections longer than the balancer's idle timeout (else it reuses one we are closing:
# sporadic 502s), lifts the per-address cap (every connection comes from its few addresses)
# and trusts X-Forwarded-* (it sets them). Either BEHIND_PROXY=alb|nginx (which implies all
# three) or the three settings themselves; an explicit value must still be right. The local
# compose file has no balancer in front and must set none of them.
LB_IDLE = 60  # the ALB's and nginx's default idle timeout, seconds

def compose_value(v):
    """A compose ${VAR:-default} reads as its default (what runs unless .env overrides it)."""
    m = re.fullmatch(r"\$\{[A-Z0-9_]+:-(.*)\}", str(v))
    return m.group(1) if m else str(v)

def lb_safe(path, env, idle=LB_IDLE):
    proxy = env.get("BEHIND_PROXY")
    keep, per_ip, trust = (env.get(k) for k in
                           ("KEEPALIVE_IDLE_SECS", "MAX_CONNECTIONS_PER_IP", "TRUST_FORWARDED_HEADERS"))
    if proxy not in ("alb", "nginx"):
        for k, v in (("KEEPALIVE_IDLE_SECS", keep), ("MAX_CONNECTIONS_PER_IP", per_ip),
                     ("TRUST_FORWARDED_HEADERS", trust)):
            if v is None:
                fail(f"{path}: behind a load balancer but {k} is unset (or set BEHIND_PROXY=alb)")
    if keep is not None and not (keep.isdigit() and int(keep) > idle):
        fail(f"{path}: KEEPALIVE_IDLE_SECS={keep} must be above the load balancer's {idle} s idle timeout")
    if per_ip is not None and per_ip != "0":
        fail(f"{path}: MAX_CONNECTIONS_PER_IP={per_ip} must be 0 behind a load balancer")
    if trust is not None and trust != "true":
        fail(f"{path}: TRUST_FORWARDED_HEADERS={trust} must be true (the load balancer sets X-Forwarded-*)")
    ok(f"{path}: load-balancer-safe (BEHIND_PROXY={proxy}, KEEPALIVE_IDLE_SECS={keep}, "
       f"MAX_CONNECTIONS_PER_IP={per_ip}, TRUST_FORWARDED_HEADERS={trust})")

env = {e.get("name"): e.get("value") for c in td.get("containerDefinitions", [])
       for e in c.get("environment", [])}
lb_safe("deployment/ecs/task-definition.json", env)
cm = [d for d in docs.get("deployment/k8s/configmap.yaml", []) if isinstance(d, dict)]
lb_safe("deployment/k8s/configmap.yaml",
        {k: str(v) for d in cm for k, v in (d.get("data") or {}).items()})
svc = (((docs.get("docker-compose.ecr.yml") or [{}])[0] or {}).get("services") or {}).get("bedrock-mcp") or {}
lb_safe("docker-compose.ecr.yml",
        {k: compose_value(v) for k, v in (svc.get("environment") or {}).items()})
def env_lines(text):
    pairs = {}
    for line in text.splitlines():
        m = re.match(r"^\s*([A-Z][A-Z0-9_]*)=(.*)$", line)
        if m:
            pairs[m.group(1)] = m.group(2).strip().strip('"\'')
    return pairs
try:
    lb_safe("deployment/systemd/env.example", env_lines(open("deployment/systemd/env.example").read()))
except OSError as e:
    fail(f"deployment/systemd/env.example: {e}")
svc = (((docs.get("docker-compose.yml") or [{}])[0] or {}).get("services") or {}).get("bedrock-mcp") or {}
for k in ("BEHIND_PROXY", "TRUST_FORWARDED_HEADERS", "MAX_CONNECTIONS_PER_IP", "KEEPALIVE_IDLE_SECS"):
    if k in (svc.get("environment") or {}):
        fail(f"docker-compose.yml: {k} should not be set (local development: no load balancer in front)")

# CloudFormation (deployment/cloudformation/bedrock-mcp.yaml; cfn-lint runs in CI separately).
class CfnLoader(yaml.SafeLoader):
    pass
def cfn_tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {"Ref" if suffix == "Ref" else "Fn::" + suffix: value}
CfnLoader.add_multi_constructor("!", cfn_tag)
path = "deployment/cloudformation/bedrock-mcp.yaml"
try:
    cfn_text = open(path).read()
    cfn = yaml.load(cfn_text, Loader=CfnLoader)
except (OSError, yaml.YAMLError) as e:
    fail(f"{path}: {e}")
    cfn_text, cfn = "", {}
res = cfn.get("Resources") or {}
def props(name):
    return (res.get(name) or {}).get("Properties") or {}
# The server role: exactly the knowledge-base actions, on the given ARNs only.
for st in ((props("ServerRole").get("Policies") or [{}])[0].get("PolicyDocument") or {}).get("Statement", []):
    if set(listify(st.get("Action", []))) != wanted:
        fail(f"{path}: ServerRole must allow exactly {sorted(wanted)}")
    if st.get("Resource") != {"Ref": "KnowledgeBaseArns"}:
        fail(f"{path}: ServerRole's knowledge-base actions must be on KnowledgeBaseArns only")
# The user role: what a user's session signs, on the same ARNs.
for st in ((props("UserRole").get("Policies") or [{}])[0].get("PolicyDocument") or {}).get("Statement", []):
    if set(listify(st.get("Action", []))) != user_wanted:
        fail(f"{path}: UserRole must allow exactly {sorted(user_wanted)}")
    if st.get("Resource") != {"Ref": "KnowledgeBaseArns"}:
        fail(f"{path}: UserRole's knowledge-base actions must be on KnowledgeBaseArns only")
# The instance: port 8000 from the load balancer's security group only.
ingress = [r for r in res.values() if r.get("Type") == "AWS::EC2::SecurityGroupIngress"]
ingress += [dict(Properties=i) for i in props("InstanceSecurityGroup").get("SecurityGroupIngress", [])]
for r in ingress:
    p = r.get("Properties") or {}
    if p.get("GroupId", {"Ref": "InstanceSecurityGroup"}) == {"Ref": "InstanceSecurityGroup"}:
        if p.get("SourceSecurityGroupId") != {"Ref": "LoadBalancerSecurityGroup"} or p.get("FromPort") != 8000:
            fail(f"{path}: the instance may be reached on 8000 from the load balancer only, found {p}")
tg = props("TargetGroup")
if tg.get("HealthCheckPath") != "/health" or tg.get("Port") != 8000:
    fail(f"{path}: the target group must check /health on port 8000")
attrs = {a.get("Key"): a.get("Value") for a in props("LoadBalancer").get("LoadBalancerAttributes", [])}
if attrs.get("idle_timeout.timeout_seconds") != {"Ref": "IdleTimeoutSeconds"}:
    fail(f"{path}: the load balancer's idle timeout must be the IdleTimeoutSeconds parameter")
# UserData: the env file it writes is load-balancer-safe for that idle timeout, its script
# passes bash -n and shellcheck, and the unit it writes is deployment/systemd's, verbatim.
m = re.search(r"Fn::Base64: !Sub\n\s*- \|\n((?:(?: {14}.*)?\n)+)", cfn_text)
script = "".join(l[14:] + "\n" for l in m.group(1).splitlines()) if m else ""
if not script.startswith("#!/bin/bash"):
    fail(f"{path}: no UserData script found")
echoed = dict(re.findall(r'^\s*echo "([A-Z_]+)=(.*)"$', script, re.M))
if echoed.get("KEEPALIVE_IDLE_SECS") != "$((${IdleTimeoutSeconds} + 5))":
    fail(f"{path}: UserData must set KEEPALIVE_IDLE_SECS to the ALB idle timeout + 5")
else:
    echoed["KEEPALIVE_IDLE_SECS"] = str(LB_IDLE + 5)
lb_safe(path + " (UserData)", echoed)
unit = re.search(r"<<'UNIT'\n(.*?)\nUNIT\n", script, re.S)
try:
    shipped = open("deployment/systemd/bedrock-mcp.service").read()
except OSError as e:
    fail(str(e))
    shipped = ""
if not unit or unit.group(1) + "\n" != shipped:
    fail(f"{path}: the unit in UserData differs from deployment/systemd/bedrock-mcp.service "
         "(copy it verbatim, indented 14 spaces)")
import subprocess, tempfile
with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as f:
    # CloudFormation's ${Name} substitutions, as a plausible value each.
    f.write(re.sub(r"\$\{[A-Za-z0-9:.]+\}", lambda x: "60" if "Timeout" in x.group(0) else "x", script))
for cmd in (["bash", "-n", f.name], ["shellcheck", "-s", "bash", f.name]):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        fail(f"{path}: cannot run {cmd[0]}: {e}")
        continue
    if r.returncode != 0:
        fail(f"{path}: UserData fails {cmd[0]}:\n{r.stdout}{r.stderr}")
os.unlink(f.name)
ok(f"{path} checked (role, security groups, health check, idle timeout, UserData)")

# The systemd unit: readiness and settings where the docs say (CI also runs
# scripts/check-systemd-unit.sh: verify, security score, system calls).
path = "deployment/systemd/bedrock-mcp.service"
keys = dict(re.findall(r"^([A-Za-z]+)=(.*)$", shipped, re.M))
for k, v in (("Type", "notify"), ("EnvironmentFile", "/etc/bedrock-mcp/env"),
             ("ExecStart", "/usr/local/bin/bedrock-mcp"), ("DynamicUser", "yes"),
             ("NoNewPrivileges", "yes"), ("ProtectSystem", "strict")):
    if keys.get(k) != v:
        fail(f"{path}: {k}={v} expected, found {keys.get(k)!r}")
ok(f"{path} checked")

# Kubernetes Deployment.
metrics_ports = set()
for path, ds in docs.items():
    for d in ds:
        if not (isinstance(d, dict) and d.get("kind") == "Deployment"):
            continue
        pod = d["spec"]["template"]["spec"]
        for c in pod.get("containers", []):
            sc = c.get("securityContext") or {}
            if not (sc.get("runAsNonRoot") and sc.get("readOnlyRootFilesystem")
                    and sc.get("allowPrivilegeEscalation") is False
                    and "ALL" in (sc.get("capabilities") or {}).get("drop", [])):
                fail(f"{path}: container securityContext lost its hardening")
            for probe in ("readinessProbe", "livenessProbe"):
                if (c.get(probe) or {}).get("httpGet", {}).get("path") != "/health":
                    fail(f"{path}: {probe} must GET /health")
            env = {e.get("name"): str(e.get("value", "")) for e in c.get("env", [])}
            metrics = env.get("METRICS_ADDR")
            if metrics:
                port = metrics.rpartition(":")[2]
                named = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
                notes = (d["spec"]["template"].get("metadata") or {}).get("annotations") or {}
                if not port.isdigit() or int(port) == 8000 or named.get("metrics") != int(port):
                    fail(f"{path}: METRICS_ADDR {metrics!r} needs its own port, named 'metrics'")
                elif notes.get("prometheus.io/port") != port:
                    fail(f"{path}: prometheus.io/port annotation must be {port}")
                metrics_ports.add(int(port) if port.isdigit() else -1)
        ok(f"{path} Deployment checked")

# Kubernetes Service: never the metrics port (the ingress would publish it).
for path, ds in docs.items():
    for d in ds:
        if isinstance(d, dict) and d.get("kind") == "Service":
            for p in (d.get("spec") or {}).get("ports", []):
                if p.get("targetPort") == "metrics" or p.get("targetPort") in metrics_ports:
                    fail(f"{path}: the Service exposes the metrics port")
            ok(f"{path} Service keeps metrics private")

# Soft check: variables the code reads but .env.example does not mention.
try:
    example = open(".env.example").read()
except OSError:
    fail(".env.example is missing")
    example = ""
prefixes = ("AWS_", "BEDROCK_", "SERVER_", "LOG_", "KB_", "WORKER_", "MAX_", "HTTP_", "SHUTDOWN_",
            "CORS_", "SSE_", "ENABLE_", "AUTH_", "ENTRA_", "PUBLIC_", "OAUTH_", "JWKS_", "ACL_",
            "DOCUMENT_", "METRICS_")
read = set()
for src in glob.glob("src/**/*.rs", recursive=True):
    for name in re.findall(r'"([A-Z][A-Z0-9_]{2,})"', open(src, errors="replace").read()):
        if name.startswith(prefixes):
            read.add(name)
# A family prefix the code matches on (e.g. "AWS_CONTAINER") counts as documented when a
# setting of that family is.
missing = sorted(n for n in read if not re.search(r"\b" + re.escape(n) + r"(\b|_)", example))
for n in missing:
    print(f"warn: src/ mentions {n}, but .env.example does not")

for p in problems:
    print("FAIL: " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY

if [ "$failed" -ne 0 ]; then
    echo "check-deploy-files: FAILED" >&2
    exit 1
fi
echo "check-deploy-files: all checks passed"
