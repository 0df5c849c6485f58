/**
 * `cluster.kubeconfigPath`: the rule for what the kubernetes and helm providers can read, the
 * same on every machine and from every output directory.
 *
 * Both providers pass `config_path` through go-homedir's `Expand` and nothing else: a leading
 * `~/` becomes the home directory; `$HOME`, `${HOME}` and `%USERPROFILE%` stay literal text (and
 * `${…}` is a Terraform template besides); `~user/` is an error. A relative path is opened from
 * the provider's working directory, the stack's folder (`cdktf.out/stacks/<env>`), not the
 * project: `.kube/config` would mean `cdktf.out/stacks/<env>/.kube/config`, a different file for
 * every output directory. An absolute path differs between machines, so the JSON would too.
 * Hence one form: `~/…`. Kubeconfigs hold credentials, which never live in the project anyway.
 * @see https://github.com/hashicorp/terraform-provider-kubernetes/blob/v2.38.0/kubernetes/provider.go (initializeConfiguration)
 * @see https://github.com/mitchellh/go-homedir/blob/v1.1.0/homedir.go (Expand)
 */

/** Why `path` cannot be a kubeconfigPath, or undefined when it can. */
export function kubeconfigPathProblem(path: string): string | undefined {
  const useHome = 'write it under your home directory as "~/…", such as "~/.kube/config"';
  if (/[\u0000-\u001f\u007f]/.test(path)) return "must not contain control characters";
  if (/\$\{|\$[A-Za-z_]|%[A-Za-z_][A-Za-z0-9_]*%/.test(path)) {
    return `must not name an environment variable ($HOME, \${…}, %…%): the providers expand only a leading ~/ and read the rest literally; ${useHome}`;
  }
  if (path.startsWith("/")) return `must not be absolute: the synthesized JSON would differ between machines; ${useHome}`;
  if (/^~[^/]/.test(path)) return `must start with "~/": the providers cannot expand ~user; ${useHome}`;
  if (!path.startsWith("~/")) {
    return `must start with "~/": the providers open a relative path from the stack's folder (cdktf.out/stacks/<env>), not from the project, and credentials do not belong in the project; ${useHome}`;
  }
  if (path === "~/" || path.endsWith("/")) return "must name a file, not a directory";
  return undefined;
}
