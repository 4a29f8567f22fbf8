import * as path from 'node:path';
import * as vscode from 'vscode';
import type { EngineImage } from '../core/engine/docker/imageList';
import { FOLDER_RUNTIME_FILE } from '../core/runtime/names';
import type { Project } from './project';
import { readSettings } from './settings';

/** The engine's images, asked at most every 30 s: completion asks on every keystroke after `image:`. */
let asked: { at: number; images: Promise<EngineImage[]> } | undefined;

/** The images the Docker engine of the user's settings has; none when it does not answer (said by the engine's status, not here). */
export function imagesOfEngine(): Promise<EngineImage[]> {
  if (asked && Date.now() - asked.at < 30_000) return asked.images;
  const images = (async () => {
    // dockerode is loaded on first use, never at activation
    const { connectDocker } = await import('../core/engine/docker/connect');
    const { engineImages } = await import('../core/engine/docker/imageList');
    try {
      return await engineImages((await connectDocker(readSettings().engine.dockerEndpoint)).docker);
    } catch {
      return [];
    }
  })();
  asked = { at: Date.now(), images };
  return images;
}

/** A quick pick of the engine's images, Airflow images first; undefined when the person cancels. */
export async function pickEngineImage(current?: string): Promise<string | undefined> {
  const images = await imagesOfEngine();
  if (!images.length) {
    void vscode.window.showWarningMessage('Airflow: the Docker engine has no images to pick from (or does not answer). Build or load one, or name one that can be pulled.');
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(images.map((image) => ({
    label: image.reference,
    description: image.airflowVersion ? `Airflow ${image.airflowVersion}` : undefined,
    detail: image.reference === current ? 'the image the runtime names now' : undefined,
  })), { title: 'An image this Docker engine has', placeHolder: 'Airflow images first' });
  return picked?.label;
}

/**
 * Writes `image: <image>` where the DAG file's runtime takes its image from: that line of that runtime file, or,
 * when no runtime file names one, a new `image:` line in the folder's `airflow-runtime.yaml`. The file is saved,
 * so the DAG files it applies to are parsed again as after any runtime-file save.
 */
export async function setRuntimeImage(project: Project, dagFile: string, image: string): Promise<vscode.Uri> {
  const runtime = project.runtimes.runtimeOf(dagFile);
  const source = runtime.sources.image ?? { kind: 'default' as const };
  const target = source.kind === 'file' ? vscode.Uri.file(source.file) : vscode.Uri.file(path.join(path.dirname(dagFile), FOLDER_RUNTIME_FILE));
  const edit = new vscode.WorkspaceEdit();
  let document: vscode.TextDocument | undefined;
  try {
    document = await vscode.workspace.openTextDocument(target);
  } catch {
    edit.createFile(target, { ignoreIfExists: true });
  }
  if (document && source.kind === 'file') {
    const line = document.lineAt(source.line - 1);
    const match = /^(\s*image\s*:\s*)(.*?)(\s+#.*)?$/.exec(line.text);
    const start = match ? match[1].length : line.text.length;
    const end = match ? start + match[2].length : line.text.length;
    edit.replace(target, new vscode.Range(line.lineNumber, start, line.lineNumber, end), match ? image : `image: ${image}`);
  } else {
    edit.insert(target, new vscode.Position(0, 0), `image: ${image}\n`);
  }
  if (!await vscode.workspace.applyEdit(edit)) throw new Error(`could not write image: ${image} into ${target.fsPath}`);
  await (await vscode.workspace.openTextDocument(target)).save();
  return target;
}
