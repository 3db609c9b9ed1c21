/**
 * An attribute list as buildx reads it (--cache-to, --cache-from, --secret):
 * one CSV record of key=value fields. A field holding a comma, a quote or a
 * line break is quoted, its quotes doubled, so that a directory named
 * `/a,b` stays one value instead of becoming an attribute `b`.
 */
export function attributes(...fields: Array<[string, string]>): string {
  return fields.map(([key, value]) => csvField(`${key}=${value}`)).join(',')
}

function csvField(field: string): string {
  return /[",\r\n]/.test(field) ? `"${field.replace(/"/g, '""')}"` : field
}
