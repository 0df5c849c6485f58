import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ENVIRONMENT_NAMES } from "../../config/schema";
import { literal, unescapeLiteral } from "../../constructs/terraform-text";
import { describeTemplateFinding, findTemplateInjections, templateSequences } from "../../stacks/interpolation-guard";
import { PlatformStack } from "../../stacks/platform-stack";
import { type Json, loadConfig, named, rawEnvironment, resources, synthChecked, synthEnvironment, testApp } from "../helpers";

const production = synthEnvironment("production", { enableAutoscaling: true });
const copy = (): Json => structuredClone(production);
/** The settings ConfigMap the mutations write into: the catalogue's first service's. */
const SERVICE = loadConfig("production").services[0]!.name;
const SETTINGS = `${SERVICE}-settings`;
const messages = (json: Json) => findTemplateInjections(json).map(describeTemplateFinding);

describe("templateSequences (HCL's template scanner)", () => {
  const cases: [string, string[]][] = [
    ["plain text", []],
    ["$${x}", []],
    ["%%{if x}", []],
    ["$$${x}", []], // a literal `$` then the escape `$${`: Terraform reads `$${x}`
    ["a ${x} b", ["interpolation x"]],
    ["$${x} ${y}", ["interpolation y"]],
    ["%{if a}b%{endif}", ["directive if a", "directive endif"]],
    ['${lookup(m, "}")}', ['interpolation lookup(m, "}")']],
    ["${~ x ~}", ["interpolation x"]],
    ["${never closed", ["interpolation never closed"]],
  ];
  for (const [text, expected] of cases) {
    it(`finds ${expected.length} sequence(s) in ${JSON.stringify(text)}`, () => {
      assert.deepEqual(
        templateSequences(text).map((s) => `${s.kind} ${s.expression}`),
        expected,
      );
    });
  }
});

describe("literal()", () => {
  it("escapes ${ and %{ and nothing else, and unescapeLiteral inverts it", () => {
    const text = 'a ${x} %{if y} $${z} 100% {} $ { "q"\nline2\\n';
    assert.equal(literal(text), 'a $${x} %%{if y} $$${z} 100% {} $ { "q"\nline2\\n');
    assert.equal(unescapeLiteral(literal(text)), text);
    assert.deepEqual(templateSequences(literal(text)), []);
  });

  it("refuses a cdktf token: a reference must stay a reference", () => {
    const stack = new PlatformStack(testApp(), { config: loadConfig("local") });
    assert.throws(() => literal(stack.namespace.name), /holds a Terraform reference; only plain text may be escaped/);
  });
});

describe("interpolation guard", () => {
  for (const env of ENVIRONMENT_NAMES) {
    for (const autoscaling of [false, true]) {
      it(`finds nothing in the shipped ${env} stack (autoscaling ${autoscaling ? "on" : "off"}), whose references it accepts`, () => {
        const json = synthEnvironment(env, { enableAutoscaling: autoscaling });
        assert.deepEqual(messages(json), []);
        // It did look: the stack holds real references and escaped literals.
        const text = JSON.stringify(json);
        assert.match(text, /\$\{kubernetes_namespace_v1\.[^}]+\.metadata\[0\]\.name\}/);
        assert.match(text, /\$\$\{datasource\}/);
      });
    }
  }

  const refused: { name: string; mutate: (j: Json) => void; expect: RegExp }[] = [
    {
      name: "a literal ${x} in an env value",
      mutate: (j) => {
        named(j, "kubernetes_stateful_set_v1", "redis").spec.template.spec.container[1].env.push({ name: "GREETING", value: "hello ${x}" });
      },
      expect:
        /^production\/redis\/server\/stateful-set \(kubernetes_stateful_set_v1\.redis_server_stateful-set_[0-9A-F]+\): spec\.template\.spec\.container\[1\]\.env\[\d+\]\.value holds "\$\{x\}", which Terraform reads as a template: it names x, which is no resource/,
    },
    {
      name: "a %{if} in a dashboard title",
      mutate: (j) => {
        const map = named(j, "kubernetes_config_map_v1", "dashboard-agent-platform-overview");
        const key = Object.keys(map.data)[0]!;
        map.data[key] = map.data[key].replace("Agent platform / Service overview", "%{if true}Overview");
      },
      expect: /dashboard-agent-platform-overview.*: data\["agent-platform-overview\.json"\] holds "%\{if true\}", which Terraform reads as a template: it is a template directive/,
    },
    {
      name: "a ${ in a Helm value",
      mutate: (j) => {
        const kps = Object.values(resources(j, "helm_release")).find((h) => h.chart === "kube-prometheus-stack")!;
        kps.values = [`${kps.values[0]}extra:\n  greeting: hello-\${name}\n`];
      },
      expect: /\(helm_release\.monitoring_kube-prometheus-stack_[0-9A-F]+\): values\[0\] holds "\$\{name\}"/,
    },
    {
      name: "a reference to a variable the stack does not declare",
      mutate: (j) => {
        named(j, "kubernetes_config_map_v1", SETTINGS).data.EXTRA = "${var.undeclared}";
      },
      expect: /names var\.undeclared, which this stack does not declare/,
    },
    {
      name: "a reference to a resource the stack does not declare",
      mutate: (j) => {
        named(j, "kubernetes_config_map_v1", SETTINGS).data.EXTRA = "${kubernetes_secret_v1.elsewhere.data}";
      },
      expect: /names kubernetes_secret_v1\.elsewhere, which is no resource, data source, variable or local of this stack/,
    },
    {
      name: "a function call outside a validation condition (it would read a file into a ConfigMap)",
      mutate: (j) => {
        named(j, "kubernetes_config_map_v1", SETTINGS).data.EXTRA = '${file("/etc/passwd")}';
      },
      expect: /calls file\(\), which this program never writes there/,
    },
    {
      name: "an interpolation that never closes",
      mutate: (j) => {
        named(j, "kubernetes_config_map_v1", SETTINGS).data.EXTRA = "cost: ${ 5";
      },
      expect: /opens an interpolation that never closes/,
    },
    {
      name: "an unescaped ${ in the provider's kube context",
      mutate: (j) => {
        j.provider.kubernetes[0].config_context = "ctx-${x}";
      },
      expect: /^provider\.kubernetes \(provider\.kubernetes\): \[0\]\.config_context holds "\$\{x\}"/,
    },
  ];
  for (const m of refused) {
    it(`refuses ${m.name}, naming the construct, the resource and the attribute`, () => {
      const json = copy();
      m.mutate(json);
      const found = messages(json);
      assert.equal(found.length, 1, found.join("\n"));
      assert.match(found[0]!, m.expect);
      assert.match(found[0]!, /Fix: pass literal text through literal\(\)/);
    });
  }

  const accepted: { name: string; mutate: (j: Json) => void }[] = [
    { name: "an escaped $${x}", mutate: (j) => (named(j, "kubernetes_config_map_v1", SETTINGS).data.EXTRA = "$${x} and %%{if y}") },
    {
      name: "a real reference to a declared resource",
      mutate: (j) => {
        const ns = Object.keys(resources(j, "kubernetes_namespace_v1"))[0]!;
        named(j, "kubernetes_config_map_v1", SETTINGS).data.EXTRA = `\${kubernetes_namespace_v1.${ns}.metadata[0].name}`;
      },
    },
    {
      name: "a declared variable",
      mutate: (j) => {
        const variable = Object.keys(j.variable ?? {})[0];
        assert.ok(variable, "production declares a variable (a blue-green switch)");
        named(j, "kubernetes_config_map_v1", SETTINGS).data.EXTRA = `\${var.${variable}}`;
      },
    },
  ];
  for (const m of accepted) {
    it(`accepts ${m.name}`, () => {
      const json = copy();
      m.mutate(json);
      assert.deepEqual(messages(json), []);
    });
  }

  it("fails synth with the guard's message when a construct writes unescaped text", () => {
    const stack = new PlatformStack(testApp(), { config: loadConfig("local") });
    stack.services[0]!.configMap.addOverride("data.RAW", "${datasource}");
    assert.throws(() => synthChecked(stack), new RegExp(`\\[local\\] local/${stack.services[0]!.name}/settings .*data\\.RAW holds "\\$\\{datasource\\}"`));
  });
});

describe("escaping at every boundary where config text enters a stack", () => {
  const hostile = "a ${x} b %{if y}c%{endif} $${z}";

  it("delivers template-like text from every free-text field literally, and the guard passes", () => {
    const raw = rawEnvironment("staging");
    raw.services[SERVICE].env = { GREETING: hostile };
    raw.migrations.command = ["sh", "-c", `echo '${hostile}'`];
    raw.cluster.context = `ctx-${hostile}`;
    // `${…}` is refused in a kubeconfigPath at load (config/kubeconfig-path.ts); a directive is text.
    raw.cluster.kubeconfigPath = "~/.kube/%{x}";
    const json = synthEnvironment("staging", {}, raw);
    assert.deepEqual(messages(json), []);
    assert.equal(unescapeLiteral(named(json, "kubernetes_config_map_v1", SETTINGS).data.GREETING), hostile);
    const job = Object.values(resources(json, "kubernetes_job_v1"))[0]!;
    assert.equal(unescapeLiteral(job.spec.template.spec.container[0].command[2]), `echo '${hostile}'`);
    assert.equal(unescapeLiteral(json.provider.kubernetes[0].config_context), `ctx-${hostile}`);
    assert.equal(unescapeLiteral(json.provider.helm[0].kubernetes.config_context), `ctx-${hostile}`);
    assert.equal(unescapeLiteral(json.provider.kubernetes[0].config_path), "~/.kube/%{x}");
  });

  it("escapes Grafana's ${datasource} in every dashboard and nothing else changes in the file", () => {
    const json = synthEnvironment("local");
    const maps = Object.values(resources(json, "kubernetes_config_map_v1")).filter((m) => m.metadata.name.startsWith("dashboard-"));
    assert.equal(maps.length, 6);
    for (const map of maps) {
      const [file, content] = Object.entries(map.data as Record<string, string>)[0]!;
      const dashboard = JSON.parse(unescapeLiteral(content));
      assert.equal(dashboard.templating.list[1].datasource.uid, "${datasource}", file);
      assert.equal(content.includes("$${datasource}"), true);
    }
  });
});
