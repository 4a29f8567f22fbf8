import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { runtimeEnvironment } from '../../src/core/engine/environment';
import type { ParseResult } from '../../src/core/harness/parseResult';
import { redactingEngine } from '../../src/core/engine/redacting';
import type { Engine, RunRequest } from '../../src/core/engine/types';
import { effectiveRuntimeYaml } from '../../src/core/runtime/describe';
import { hoverAt, suggestionsAt } from '../../src/core/runtime/editing';
import { resolveRuntime } from '../../src/core/runtime/resolve';
import { redactedValues, redactUri, secretsOfEnvironment, textRedactor } from '../../src/core/runtime/secrets';
import { settingsLayer } from '../../src/core/runtime/settings';
import { lineSplitter } from '../../src/core/engine/lineSplitter';
import { fakeDisk, read, where } from './helpers';

const PASSWORD = 'pa55:w/rd@s3cret';
const URI = `postgres://etl:${encodeURIComponent(PASSWORD)}@db.example.com:5432/warehouse?sslmode=require-s3cret`;

function resolveIn(files: Record<string, string>, dagFile: string, settings?: Record<string, unknown>) {
  const layer = settings ? settingsLayer((name) => settings[name]) : undefined;
  return resolveRuntime(`/ws/${dagFile}`, {
    workspaceRoot: '/ws', readText: (file) => files[file.replace(/^\/ws\//, '')], probe: fakeDisk(...Object.keys(files), 'dags/team/'),
    settings: layer?.layer, settingsProblems: layer?.problems,
  });
}

describe('variables and connections in runtime files', () => {
  it('reads a variable of any JSON value and connections as URI or fields', () => {
    const file = read([
      'variables:',
      '  environment: dev',
      '  feed_config: {regions: [emea, apac], batch: 500}',
      '  retries: 3',
      'connections:',
      `  warehouse: "${URI}"`,
      '  partner-api.v2:',
      '    conn_type: http',
      '    host: api.partner.example',
      '    password: t0ken-value',
      '    port: 443',
      '    extra: {timeout: 30}',
    ].join('\n'));
    assert.deepEqual(file.problems, []);
    assert.deepEqual(file.values.variables, { environment: 'dev', feed_config: { regions: ['emea', 'apac'], batch: 500 }, retries: 3 });
    assert.equal(file.values.connections?.warehouse, URI);
    assert.deepEqual(file.values.connections?.['partner-api.v2'], { conn_type: 'http', host: 'api.partner.example', password: 't0ken-value', port: 443, extra: { timeout: 30 } });
  });

  it('bad names, bad connections and names Airflow cannot tell apart are errors at their line, the rest applies', () => {
    const file = read([
      'variables:',
      '  "has space": x',
      '  feed: a',
      '  FEED: b',
      '  empty:',
      'connections:',
      '  no_scheme: "just-a-hunter2-string"',
      '  no_type: {host: db}',
      '  typo: {conn_type: http, hots: db}',
      '  bad_port: {conn_type: http, port: "hunter2"}',
      '  ok: "http://example.com"',
    ].join('\n'));
    assert.deepEqual(where(file), [
      '2:3 error bad-value', '4:3 error conflict', '5:9 error wrong-type',
      '7:14 error bad-value', '8:3 error missing-key', '9:27 error unknown-key', '10:37 error wrong-type',
    ]);
    const messages = file.problems.map((p) => p.message).join('\n');
    assert.match(messages, /"has space" is not a valid name in `variables`: variable keys are letters, digits, _, - and \./);
    assert.match(messages, /"FEED" and "feed" in `variables` are the same Variable to Airflow \(AIRFLOW_VAR_FEED/);
    assert.match(messages, /`connections.no_scheme` must be a connection URI/);
    assert.match(messages, /unknown key "hots" in `connections.typo`; did you mean "host"\?/);
    assert.doesNotMatch(messages, /hunter2/, 'a message never quotes a connection\'s value');
    assert.deepEqual(file.values.variables, { feed: 'a' });
    // as everywhere in a runtime file, the bad value is left out and the rest applies
    assert.deepEqual(file.values.connections, { typo: { conn_type: 'http' }, bad_port: { conn_type: 'http' }, ok: 'http://example.com' });
  });

  it('merge id by id across layers as env does; a connection is replaced as a whole', () => {
    const runtime = resolveIn({
      'dags/airflow-runtime.yaml': 'variables:\n  region: emea\n  bucket: s3://dev\nconnections:\n  db: {conn_type: postgres, host: root-db, login: root}\n  api: "http://api"\n',
      'dags/team/airflow-runtime.yaml': 'variables:\n  region: apac\nconnections:\n  db: {conn_type: postgres, host: team-db}\n',
    }, 'dags/team/etl.py');
    assert.deepEqual(runtime.problems, []);
    assert.deepEqual(runtime.values.variables, { region: 'apac', bucket: 's3://dev' });
    assert.deepEqual(runtime.values.connections, { db: { conn_type: 'postgres', host: 'team-db' }, api: 'http://api' });
    assert.deepEqual(runtime.sources['variables.region'], { kind: 'file', file: '/ws/dags/team/airflow-runtime.yaml', line: 2, column: 3 });
    assert.deepEqual(runtime.sources['connections.api'], { kind: 'file', file: '/ws/dags/airflow-runtime.yaml', line: 6, column: 3 });
  });

  it('reach the environment as AIRFLOW_VAR_/AIRFLOW_CONN_ (uppercased, JSON-encoded), winning over env', () => {
    const env = runtimeEnvironment({
      env: { AIRFLOW_VAR_REGION: 'from-env', AIRFLOW_CONN_API: 'http://from-env', OTHER: 'kept' },
      variables: { region: 'emea', feed_config: { batch: 500 }, retries: 3, enabled: true },
      connections: { api: 'http://api', 'db.main': { conn_type: 'postgres', host: 'db', port: 5432 } },
    });
    assert.deepEqual(env, {
      AIRFLOW_VAR_REGION: 'emea', AIRFLOW_VAR_FEED_CONFIG: '{"batch":500}', AIRFLOW_VAR_RETRIES: '3', AIRFLOW_VAR_ENABLED: 'true',
      AIRFLOW_CONN_API: 'http://api', 'AIRFLOW_CONN_DB.MAIN': '{"conn_type":"postgres","host":"db","port":5432}', OTHER: 'kept',
    });
  });

  it('complete and hover from the schema', () => {
    const at = (marked: string): [string, number, number] => {
      const offset = marked.indexOf('|');
      const text = marked.replace('|', '');
      const before = text.slice(0, offset).split('\n');
      return [text, before.length - 1, before[before.length - 1].length];
    };
    assert.ok(suggestionsAt(...at('|')).some((s) => s.label === 'variables'));
    assert.ok(suggestionsAt(...at('|')).some((s) => s.label === 'connections'));
    const fields = suggestionsAt(...at('connections:\n  db:\n    conn_type: postgres\n    |')).map((s) => s.label);
    assert.deepEqual(fields.sort(), ['description', 'extra', 'host', 'login', 'password', 'port', 'schema']);
    assert.match(hoverAt(...at('variables:\n  reg|ion: emea\n'))!.markdown, /AIRFLOW_VAR_<KEY>/);
    assert.match(hoverAt(...at('connections:\n  db:\n    pass|word: x\n'))!.markdown, /\*\*Password\*\* `connections\.db\.password`[\s\S]*never printed/);
  });
});

describe('secrets', () => {
  const env = runtimeEnvironment({
    variables: { partner_api_key: 'key-0123456789', region: 'emea', feed: { endpoint: 'https://feed', token: 'feed-t0ken-xyz' } },
    connections: { warehouse: URI, api: { conn_type: 'http', password: 'json-pa55word', extra: { client_secret: 'extra-s3cret', timeout: 30 } } },
    env: { SERVICE_PASSWORD: 'env-pa55word', PLAIN: 'visible-value' },
  });

  it('are connection passwords (as written and decoded) and extras, and values with sensitive names', () => {
    const secrets = secretsOfEnvironment(env);
    for (const secret of [PASSWORD, encodeURIComponent(PASSWORD), 'require-s3cret', 'json-pa55word', 'extra-s3cret', 'key-0123456789', 'feed-t0ken-xyz', 'env-pa55word']) {
      assert.ok(secrets.includes(secret), secret);
    }
    for (const visible of ['emea', 'https://feed', 'visible-value', 'etl']) assert.ok(!secrets.includes(visible), visible);
  });

  it('sensitive names are Airflow\'s, plus [core] sensitive_var_conn_names', () => {
    const extra = runtimeEnvironment({ variables: { region_code: 'emea-west-1' }, airflowConfig: { core: { sensitive_var_conn_names: 'region_code' } } });
    assert.deepEqual(secretsOfEnvironment(extra), ['emea-west-1']);
  });

  it('are replaced by *** in text, multi-line ones line by line, short ones left alone', () => {
    const redact = textRedactor(['-----BEGIN KEY-----\nMIIEabcdef\n-----END KEY-----', 'pa55word', 'abc', 'a"quoted"pass']);
    assert.equal(redact('key is MIIEabcdef, pw pa55word, pw2 pa55word, abc'), 'key is ***, pw ***, pw2 ***, abc');
    assert.equal(redact('{"p": "a\\"quoted\\"pass"}'), '{"p": "***"}');
    assert.equal(textRedactor([])('unchanged'), 'unchanged');
  });

  it('split across chunks of output are still redacted: lines are whole before they are redacted', () => {
    const redact = textRedactor(secretsOfEnvironment(env));
    const lines: string[] = [];
    const splitter = lineSplitter((line) => lines.push(redact(line)));
    const output = `password is ${PASSWORD} and key-0123456789\nnext line json-pa55word\n`;
    for (let i = 0; i < output.length; i += 3) splitter.push(output.slice(i, i + 3));
    splitter.end();
    assert.deepEqual(lines, ['password is *** and ***', 'next line ***']);
  });

  it('are *** in a shown runtime, whatever their length; other values stay', () => {
    const shown = redactedValues({
      variables: { partner_api_key: 'k', region: 'emea', feed: { endpoint: 'https://feed', token: 't' } },
      connections: { warehouse: URI, api: { conn_type: 'http', login: 'me', password: 'p', extra: { a: 1 } } },
      env: { AIRFLOW_CONN_OLD: 'mysql://u:pw@h/db', AIRFLOW_VAR_SECRET_X: 'x', AIRFLOW_VAR_REGION: 'emea', DB_PASSWORD: 'y' },
    });
    assert.deepEqual(shown, {
      variables: { partner_api_key: '***', region: 'emea', feed: { endpoint: 'https://feed', token: '***' } },
      connections: { warehouse: 'postgres://etl:***@db.example.com:5432/warehouse?sslmode=***', api: { conn_type: 'http', login: 'me', password: '***', extra: '***' } },
      env: { AIRFLOW_CONN_OLD: 'mysql://u:***@h/db', AIRFLOW_VAR_SECRET_X: '***', AIRFLOW_VAR_REGION: 'emea', DB_PASSWORD: '***' },
    });
    assert.equal(redactUri('http://host/path'), 'http://host/path');
    assert.equal(redactUri('not a uri'), '***');
  });

  it('never reach resolve\'s YAML', () => {
    const runtime = resolveIn({ 'dags/airflow-runtime.yaml': `connections:\n  warehouse: "${URI}"\nvariables:\n  partner_api_key: key-0123456789\n` }, 'dags/etl.py');
    const yaml = effectiveRuntimeYaml(runtime, (f) => f);
    assert.doesNotMatch(yaml, /key-0123456789|pa55|s3cret/);
    assert.match(yaml, /partner_api_key: "\*\*\*" # \/ws\/dags\/airflow-runtime.yaml:4/);
  });
});

describe('an engine hands on no secret', () => {
  const runtime = resolveIn({ 'dags/airflow-runtime.yaml': 'variables:\n  api_token: tok-0123456789\n' }, 'dags/etl.py');
  const fake: Engine = {
    kind: 'local', describe: () => 'fake', retireWarmRuntimes: () => 0, dispose: async () => {},
    async parse() {
      return { importErrors: [{ file: 'x', line: 1, column: 1, message: 'KeyError: tok-0123456789', traceback: 'tok-0123456789' }], warnings: [], output: { bytes: 1, truncated: false, tail: 'tok-0123456789' } } as unknown as ParseResult;
    },
    async run(request) {
      request.onLog('the token is tok-0123456789', 'stdout');
      return { exitCode: 0, durationMs: 1 };
    },
    async testDag() {
      throw new Error('failed with tok-0123456789');
    },
    async render() {
      return { exitCode: 1, durationMs: 1, fields: [{ name: 'bash_command', value: 'curl -H "tok-0123456789"' }], failure: { field: 'env', template: '{{ var.value.api_token }}', message: 'tok-0123456789 is bad' } };
    },
  };
  const engine = redactingEngine(fake);

  it('in log lines, parse results and failures', async () => {
    const lines: string[] = [];
    await engine.run({ runtime, dagFile: runtime.dagFile, dagId: 'd', taskId: 't', onLog: (line) => lines.push(line) } as RunRequest);
    assert.deepEqual(lines, ['the token is ***']);
    const result = await engine.parse({ runtime, dagFile: runtime.dagFile });
    assert.doesNotMatch(JSON.stringify(result), /tok-0123456789/);
    await assert.rejects(engine.testDag({ runtime, dagFile: runtime.dagFile, dagId: 'd', onLog: () => {} }), /failed with \*\*\*/);
    const rendered = await engine.render({ runtime, dagFile: runtime.dagFile, dagId: 'd', taskId: 't' });
    assert.doesNotMatch(JSON.stringify(rendered), /tok-0123456789/);
    assert.equal(rendered.fields[0].value, 'curl -H "***"');
  });

  it('from an envFile too', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'airflow-runtime-secrets-'));
    writeFileSync(path.join(dir, '.env'), 'AIRFLOW_CONN_DB=postgres://u:file-pa55word@h/db\n');
    const secrets = secretsOfEnvironment(runtimeEnvironment({ envFile: path.join(dir, '.env') }));
    assert.ok(secrets.includes('file-pa55word'));
  });
});

describe('secrets as URLs and Airflow\'s settings show them (issue 21, item 8)', () => {
  it('a connection password is hidden in the forms a URL quotes it in: get_uri() (quote), extras (quote_plus)', () => {
    const password = 'open sesame!(x)*';
    const env = runtimeEnvironment({ connections: { db: { conn_type: 'postgres', host: 'h', login: 'u', password } } });
    const redact = textRedactor(secretsOfEnvironment(env));
    // what Python's quote(password, safe=''), quote(password) and quote_plus(password) print
    assert.equal(redact('postgres://u:open%20sesame%21%28x%29%2A@h'), 'postgres://u:***@h');
    assert.equal(redact('pw=open+sesame%21%28x%29%2A'), 'pw=***');
    assert.equal(redact(`raw ${password}`), 'raw ***');
  });

  it('a URI password with `!` is hidden as `%21` too, written either way in the runtime file', () => {
    for (const written of ['pa55%21word', 'pa55!word']) {
      const redact = textRedactor(secretsOfEnvironment(runtimeEnvironment({ connections: { db: `postgres://u:${written}@h/db` } })));
      assert.equal(redact('Connection postgres://u:pa55%21word@h/db failed'), 'Connection postgres://u:***@h/db failed', written);
    }
  });

  it('Airflow\'s sensitive settings are secrets: its own list, their _cmd and _secret forms, set by airflowConfig or env', () => {
    const values = {
      airflowConfig: {
        core: { fernet_key: 'fernet-0123456789abcdef', dags_folder: '/opt/dags' },
        smtp: { smtp_password: 'smtp-pa55word', smtp_host: 'mail' },
        database: { sql_alchemy_conn: 'postgresql://air:dbpa55word@db/airflow', sql_alchemy_conn_cmd: 'cat /run/db-url' },
        celery: { broker_url: 'redis://:brokerpa55@redis:6379/0' },
        webserver: { secret_key: 'web-s3cret-key' },
        api_auth: { jwt_secret: 'jwt-s3cret-value' },
      },
      env: { AIRFLOW__CORE__FERNET_KEY_SECRET: 'vault-key-name', AIRFLOW__CORE__PARALLELISM: '8' },
    };
    const shown = redactedValues(values);
    assert.deepEqual(shown.airflowConfig, {
      core: { fernet_key: '***', dags_folder: '/opt/dags' }, smtp: { smtp_password: '***', smtp_host: 'mail' },
      database: { sql_alchemy_conn: '***', sql_alchemy_conn_cmd: '***' }, celery: { broker_url: '***' },
      webserver: { secret_key: '***' }, api_auth: { jwt_secret: '***' },
    });
    assert.deepEqual(shown.env, { AIRFLOW__CORE__FERNET_KEY_SECRET: '***', AIRFLOW__CORE__PARALLELISM: '8' });
    const secrets = secretsOfEnvironment(runtimeEnvironment(values));
    for (const secret of ['fernet-0123456789abcdef', 'smtp-pa55word', 'dbpa55word', 'cat /run/db-url', 'brokerpa55', 'web-s3cret-key', 'jwt-s3cret-value', 'vault-key-name']) {
      assert.ok(secrets.includes(secret), secret);
    }
    for (const visible of ['/opt/dags', 'mail', '8']) assert.ok(!secrets.includes(visible), visible);
  });

  it('never reach resolve\'s YAML (Show Effective Runtime)', () => {
    const runtime = resolveIn({ 'dags/airflow-runtime.yaml': 'airflowConfig:\n  core:\n    fernet_key: fernet-0123456789abcdef\n  smtp:\n    smtp_password: smtp-pa55word\n' }, 'dags/etl.py');
    const yaml = effectiveRuntimeYaml(runtime, (f) => f);
    assert.doesNotMatch(yaml, /fernet-0123|smtp-pa55/);
    assert.match(yaml, /fernet_key: "\*\*\*"/);
  });
});
