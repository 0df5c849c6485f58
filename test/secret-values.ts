/**
 * The shared table of secret and harmless values that every consumer of config/secrets.ts is
 * tested against: the rule set itself (test/config/secrets.test.ts), the walk over a config
 * file's every field (the same file), error messages and the summary, the policy gate and
 * scripts/check.ts on a synthesized stack (test/stacks/secret-scan.test.ts), and the robustness
 * corpus (test/robustness/corpus.test.ts). A new shape goes here first.
 */

/** A secret that must be refused wherever it appears, and never printed. */
export interface SecretValue {
  /** What it is, for test names. */
  readonly name: string;
  readonly value: string;
  /** The part of it that must never appear in any output. */
  readonly secret: string;
  /** What `secretShape` calls it. */
  readonly shape: RegExp;
}

const PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7";

export const SECRET_VALUES: readonly SecretValue[] = [
  { name: "a URL with user and password", value: "postgresql://app:hunter2-pw@db.internal:5432/agent", secret: "hunter2-pw", shape: /URL with a password/ },
  { name: "a Redis URL with an empty user", value: "redis://:s3cr3t-redis@redis:6379/0", secret: "s3cr3t-redis", shape: /URL with a password/ },
  { name: "a PEM private key", value: `-----BEGIN PRIVATE KEY-----\n${PEM_BODY}\n-----END PRIVATE KEY-----`, secret: PEM_BODY, shape: /PEM private key/ },
  { name: "an RSA PEM key on one line", value: `-----BEGIN RSA PRIVATE KEY-----${PEM_BODY}-----END RSA PRIVATE KEY-----`, secret: PEM_BODY, shape: /PEM private key/ },
  {
    name: "a JSON Web Token",
    value: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    secret: "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    shape: /JSON Web Token/,
  },
  { name: "an OpenAI key", value: "sk-proj-abcdefghijklmnopqrstuvwxyz012345", secret: "abcdefghijklmnopqrstuvwxyz012345", shape: /provider's API key/ },
  { name: "an AWS access key id", value: "AKIAIOSFODNN7EXAMPLE", secret: "IOSFODNN7EXAMPLE", shape: /provider's API key/ },
  { name: "a GitHub token", value: "ghp_abcdefghijklmnopqrstuvwxyz0123456789", secret: "abcdefghijklmnopqrstuvwxyz0123456789", shape: /provider's API key/ },
  { name: "a 40-hex random string", value: "7f3a9c2e4b1d8f6a0c5e3b9d2f7a1c4e8b6d0f3a", secret: "7f3a9c2e4b1d8f6a0c5e3b9d2f7a1c4e8b6d0f3a", shape: /long random string/ },
  { name: "a PagerDuty routing key (32 hex)", value: "e93facc04764012d7bfb002500d5d1a6", secret: "e93facc04764012d7bfb002500d5d1a6", shape: /long random string/ },
  { name: "PGPASSWORD in a command", value: "PGPASSWORD=Tr0ub4dor alembic upgrade head", secret: "Tr0ub4dor", shape: /assigned to a name/ },
  { name: "a libpq key/value string", value: "host=db.internal user=app password=pg-Secret-77 dbname=agent", secret: "pg-Secret-77", shape: /assigned to a name/ },
  { name: "a libpq string with spaces around =", value: "host=db password = spaced-S3cret dbname=agent", secret: "spaced-S3cret", shape: /assigned to a name/ },
  { name: "a --token= flag", value: "--token=tok-9f8e7d6c", secret: "tok-9f8e7d6c", shape: /assigned to a name/ },
  { name: "JSON with a password field", value: '{"user": "app", "password": "json-pw-42"}', secret: "json-pw-42", shape: /JSON with a secret field/ },
  { name: "JSON with an apiKey field", value: '{"apiKey":"k-123-abc-456"}', secret: "k-123-abc-456", shape: /JSON with a secret field/ },
  { name: "an HTTP Basic credential", value: "Authorization: Basic dXNlcjpodW50ZXIy", secret: "dXNlcjpodW50ZXIy", shape: /Basic credential/ },
  { name: "an HTTP Bearer token", value: "Authorization: Bearer 7xQ2mN9pL4kR8sT1vW3yZ6", secret: "7xQ2mN9pL4kR8sT1vW3yZ6", shape: /Bearer token/ },
  { name: "a Slack webhook URL", value: "https://hooks.slack.com/services/T0ABCDEF1/B0ABCDEF2/aBcDeFgHiJkLmNoPqRsTuVwX", secret: "aBcDeFgHiJkLmNoPqRsTuVwX", shape: /webhook URL/ },
  { name: "a Discord webhook URL", value: "https://discord.com/api/webhooks/123456789012345678/AbCdEf-GhIjKl_MnOpQr", secret: "AbCdEf-GhIjKl_MnOpQr", shape: /webhook URL/ },
  { name: "a Teams webhook URL", value: "https://contoso.webhook.office.com/webhookb2/1234abcd@5678ef/IncomingWebhook/abcdef0123/9876fedc", secret: "abcdef0123/9876fedc", shape: /webhook URL/ },
  {
    name: "a Teams workflow URL with sig=",
    value: "https://prod-12.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers&sv=1.0&sig=Zm9vYmFyYmF6cXV4",
    secret: "Zm9vYmFyYmF6cXV4",
    shape: /credential in its query string/,
  },
  { name: "a generic webhook with ?token=", value: "https://alerts.example.com/hook?token=tk_live_5678", secret: "tk_live_5678", shape: /credential in its query string/ },
  { name: "a URL with ?api_key=", value: "https://api.example.com/v1?format=json&api_key=ak-0a1b2c3d", secret: "ak-0a1b2c3d", shape: /credential in its query string/ },
];

/** Values that look a little like secrets and must pass everywhere (and be shown as they are). */
export const HARMLESS_VALUES: readonly { readonly name: string; readonly value: string }[] = [
  { name: "a password file path", value: "password_file=/etc/platform/secrets/db" },
  { name: "a password read from a file in a command", value: "PGPASSWORD=$(cat /run/secrets/db-password) psql" },
  { name: "Bearer in prose", value: "Send a Bearer token in the Authorization header" },
  { name: "Basic in prose", value: "Basic auth is off for the health endpoints" },
  { name: "a URL with a user but no password", value: "https://deploy@git.example.com/agent-platform.git" },
  { name: "a database URL without credentials", value: "postgresql://db.internal:5432/agent" },
  { name: "a URL with a port", value: "http://127.0.0.1:9187/metrics" },
  { name: "a runbook URL with a long path", value: "https://runbooks.example.com/agent-platform/AgentPlatformHighLatencyP95" },
  { name: "a runbook URL with a percent-encoded space", value: "https://runbooks.example.com/agent%20platform/AgentPlatformHighLatencyP95" },
  { name: "a Postgres setting about passwords", value: "password_encryption = scram-sha-256" },
  { name: "a PgBouncer auth type", value: "auth_type = scram-sha-256" },
  { name: "initdb's authentication methods", value: "--auth-local=scram-sha-256 --auth-host=scram-sha-256" },
  { name: "an empty token", value: "token=" },
  { name: "a key prefix", value: "key_prefix=cache" },
  { name: "a UUID", value: "550e8400-e29b-41d4-a716-446655440000" },
  { name: "a model name", value: "gpt-4o-mini-2024-07-18" },
  { name: "a long kebab-case name", value: "agent-platform-overview-dashboard-for-production" },
  { name: "a Terraform resource address", value: "kubernetes_stateful_set_v1.postgres_server_stateful-set_41B50D02" },
  { name: "a query string without credentials", value: "https://api.example.com/v1/search?page=2&per_page=50" },
  { name: "JSON without secrets", value: '{"user": "app", "passwordFile": "/run/secrets/pw"}' },
  { name: "a public key header", value: "-----BEGIN PUBLIC KEY-----" },
];
