// Collects field errors so a request reports every problem at once, in BigV's shape.
import { Invalid } from './errors.js';

export class FieldErrors {
  private readonly fields: Record<string, string[]> = {};
  private discs: Record<string, string[]>[] | null = null;

  add(field: string, message: string): void {
    (this.fields[field] ??= []).push(message);
  }

  /** An error on the i-th disc of a request with `count` discs. */
  disc(i: number, count: number, field: string, message: string): void {
    this.discs ??= Array.from({ length: count }, () => ({}));
    (this.discs[i]![field] ??= []).push(message);
  }

  get empty(): boolean {
    return Object.keys(this.fields).length === 0 && this.discs === null;
  }

  throwIfAny(): void {
    if (this.empty) return;
    throw new Invalid({ ...this.fields, ...(this.discs ? { discs: this.discs } : {}) });
  }
}
