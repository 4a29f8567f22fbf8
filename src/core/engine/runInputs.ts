/**
 * What a run is given by a person (the editor's prompts, the CLI's flags): one rule for each, in one place.
 */

/** Why a logical date given as text cannot be used (a message for a person), or undefined when it can. */
export function logicalDateProblem(text: string): string | undefined {
  const found = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!found) return `a logical date is YYYY-MM-DD, not "${text}"`;
  const [year, month, day] = found.slice(1).map(Number);
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return `${text} is not a day of the calendar`;
  return undefined;
}

/** Today as YYYY-MM-DD, in this machine's time zone (what a person means by today). */
export function today(now = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/** Why a DAG run's conf given as text cannot be used, or undefined when it can (a JSON object). */
export function dagRunConfProblem(text: string): string | undefined {
  let conf: unknown;
  try {
    conf = JSON.parse(text);
  } catch (error) {
    return `the conf is not JSON: ${(error as Error).message}`;
  }
  return conf !== null && typeof conf === 'object' && !Array.isArray(conf) ? undefined : 'the conf must be a JSON object, such as {"region": "emea"}';
}
