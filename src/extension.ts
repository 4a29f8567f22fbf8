import type * as vscode from 'vscode';
import { registerRuntimeFileDiagnostics } from './vscode/runtimeFileDiagnostics';

/** A flat list of register calls; nothing slow is awaited here. */
export function activate(context: vscode.ExtensionContext): void {
  registerRuntimeFileDiagnostics(context);
}

export function deactivate(): void {}
