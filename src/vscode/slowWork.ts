import * as vscode from 'vscode';
import type { ProgressEvent } from '../core/engine/types';
import type { Project } from './project';

/** Stages that take seconds to minutes, and are worth a word on screen. */
const SLOW_STAGES = new Set<ProgressEvent['stage']>(['pull', 'build', 'venv', 'migrate', 'start', 'copy']);

/** Said before the tools' own lines (a pull's layers, docker build and pip output); our own messages say it already. */
const STAGE_WORDS: Partial<Record<ProgressEvent['stage'], string>> = { pull: 'pulling the image', build: 'building the image', venv: 'building the virtualenv' };

function describe(event: ProgressEvent): string {
  const words = STAGE_WORDS[event.stage];
  return words && !event.message.startsWith(words.split(' ')[0]) ? `${words}: ${event.message}` : event.message;
}

/** What each DAG file's parse is waiting for, while it waits: for the tree row, the notification and the status bar. */
export class SlowWork implements vscode.Disposable {
  private readonly stages = new Map<string, ProgressEvent>();
  private readonly changed = new vscode.EventEmitter<string[]>();
  readonly onDidChange = this.changed.event;
  private notification?: { files: Set<string>; report(message: string): void; done(): void };
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly project: Project) {
    this.disposables.push(
      this.changed,
      project.onDidProgress(({ file, event }) => this.progressed(file, event)),
      project.parser.states.onDidChange((files) => {
        const ended = files.filter((file) => this.stages.has(file) && !project.parser.states.get(file)?.parsing);
        if (!ended.length) return;
        ended.forEach((file) => { this.stages.delete(file); this.notification?.files.delete(file); });
        if (this.notification && this.notification.files.size === 0) this.notification.done();
        this.changed.fire(ended);
      }),
    );
  }

  /** `starting airflow:3.3.2: the container, then Airflow's import (once per runtime)`, or undefined. */
  stageOf(file: string): string | undefined {
    const event = this.stages.get(file);
    return event && describe(event);
  }

  /** What the first parse that waits on slow work is waiting for (the status bar says it), or undefined. */
  current(): string | undefined {
    const [event] = this.stages.values();
    return event && describe(event);
  }

  dispose(): void {
    this.notification?.done();
    this.disposables.forEach((d) => d.dispose());
  }

  private progressed(file: string, event: ProgressEvent): void {
    if (!SLOW_STAGES.has(event.stage) && !this.stages.has(file)) return;
    this.stages.set(file, event);
    this.changed.fire([file]);
    this.notify(file, event);
  }

  /** One cancellable notification for all the parses that wait on slow work; it closes when they end. */
  private notify(file: string, event: ProgressEvent): void {
    const line = describe(event).slice(0, 160);
    if (this.notification) {
      this.notification.files.add(file);
      this.notification.report(line);
      return;
    }
    const files = new Set([file]);
    void vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Airflow', cancellable: true }, (progress, token) => new Promise<void>((resolve) => {
      const done = () => {
        if (this.notification?.files === files) this.notification = undefined;
        resolve();
      };
      this.notification = { files, report: (message) => progress.report({ message }), done };
      progress.report({ message: line });
      token.onCancellationRequested(() => {
        for (const waiting of files) this.project.parser.cancel(waiting);
        done();
      });
    }));
  }
}
