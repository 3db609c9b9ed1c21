// A typed stand-in for @actions/core: records what a step logs, outputs and
// keeps in its state, so orchestration can be tested without a runner.
import { jest } from '@jest/globals'
import type * as Core from '@actions/core'

export interface CoreRecord {
  inputs: Record<string, string>
  outputs: Record<string, string>
  state: Record<string, string>
  log: string[]
  failed?: string
}

export function coreMock(record: CoreRecord): Partial<typeof Core> {
  const line = (prefix: string) => (message: string | Error) => {
    record.log.push(`${prefix}${message instanceof Error ? message.message : message}`)
  }
  return {
    getInput: jest.fn((name: string) => record.inputs[name] ?? ''),
    setOutput: jest.fn((name: string, value: unknown) => {
      record.outputs[name] = String(value)
    }),
    saveState: jest.fn((name: string, value: unknown) => {
      record.state[name] = String(value)
    }),
    getState: jest.fn((name: string) => record.state[name] ?? ''),
    setSecret: jest.fn(),
    setFailed: jest.fn((message: string | Error) => {
      record.failed = message instanceof Error ? message.message : message
    }),
    info: jest.fn(line('')),
    notice: jest.fn(line('::notice::')),
    warning: jest.fn(line('::warning::')),
    debug: jest.fn(),
    group: jest.fn(<T>(_name: string, fn: () => Promise<T>) => fn()) as unknown as typeof Core.group
  }
}

export function freshRecord(inputs: Record<string, string> = {}): CoreRecord {
  return { inputs, outputs: {}, state: {}, log: [] }
}
