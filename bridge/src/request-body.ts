import type { CommandArgs } from "./command-policy";

/** The request itself is malformed; maps to HTTP 400 before anything reaches redis. */
export class BadRequestError extends Error {
  override name = "BadRequestError";
}

const COMMAND_EXAMPLE = '["SET","key","value"]';
const PIPELINE_EXAMPLE = '[["SET","key","value"],["GET","key"]]';

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new BadRequestError(`Request body is not valid JSON; expected a command such as ${COMMAND_EXAMPLE}`);
  }
}

/** Validates one command and stringifies numbers/booleans the way redis would receive them anyway. */
export function toCommand(value: unknown, where = "Command"): CommandArgs {
  if (!Array.isArray(value) || value.length === 0) {
    throw new BadRequestError(`${where} must be a non-empty JSON array such as ${COMMAND_EXAMPLE}`);
  }
  const name = value[0];
  if (typeof name !== "string") {
    throw new BadRequestError(`${where}: the command name (element 0) must be a string`);
  }
  const command: CommandArgs = [name];
  for (let i = 1; i < value.length; i++) {
    const arg: unknown = value[i];
    switch (typeof arg) {
      case "string":
        command.push(arg);
        break;
      case "number":
        if (!Number.isFinite(arg)) throw new BadRequestError(`${where}: argument ${i} is not a finite number`);
        command.push(String(arg));
        break;
      case "boolean":
        command.push(String(arg));
        break;
      default:
        throw new BadRequestError(
          `${where}: argument ${i} must be a string, number or boolean, got ${arg === null ? "null" : Array.isArray(arg) ? "an array" : typeof arg}`,
        );
    }
  }
  return command;
}

export function toCommandList(value: unknown): CommandArgs[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new BadRequestError(`Body must be a non-empty JSON array of commands such as ${PIPELINE_EXAMPLE}`);
  }
  return value.map((entry, i) => toCommand(entry, `Command ${i}`));
}
