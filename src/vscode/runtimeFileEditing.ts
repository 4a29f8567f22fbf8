import * as vscode from 'vscode';
import { cursorContext, hoverAt, suggestionsAt } from '../core/runtime/editing';
import { imagesOfEngine } from './engineImages';

/** Runtime files wherever they are, by name. */
export const RUNTIME_FILE_SELECTOR: vscode.DocumentSelector = [
  { pattern: '**/airflow-runtime.yaml' },
  { pattern: '**/*.airflow-runtime.yaml' },
];

/** The Red Hat YAML extension reads our schema through `yamlValidation` and then completes, hovers and validates itself. */
export function redHatYamlActive(): boolean {
  return !!vscode.extensions.getExtension('redhat.vscode-yaml')?.isActive;
}

/** Completion of keys and values, and hover docs, from the runtime schema; needs no other extension. */
export function registerRuntimeFileEditing(context: vscode.ExtensionContext): void {
  context.subscriptions.push(
    // Enter after `timeouts:` (a key that opens a block) indents the next line, as YAML needs. For every YAML
    // file: VS Code gives languages one configuration, and this rule is what any YAML author expects.
    vscode.languages.setLanguageConfiguration('yaml', {
      onEnterRules: [{ beforeText: /^\s*(- )?[^\s#:'"][^#:]*:\s*(#.*)?$/, action: { indentAction: vscode.IndentAction.Indent } }],
    }),
    vscode.languages.registerCompletionItemProvider(RUNTIME_FILE_SELECTOR, {
      async provideCompletionItems(document, position) {
        const context = cursorContext(document.getText(), position.line, position.character);
        // the image line: the engine's own images, Airflow images first (what the schema cannot know)
        const images = context?.position === 'value' && context.key === 'image' && context.parentPath.length === 0
          ? (await imagesOfEngine()).map((image, rank) => {
            const item = new vscode.CompletionItem(image.reference, vscode.CompletionItemKind.Value);
            item.detail = image.airflowVersion ? `on this engine: Airflow ${image.airflowVersion}` : 'on this engine';
            item.sortText = String(rank).padStart(4, '0');
            return item;
          })
          : [];
        if (redHatYamlActive()) return images;
        return [...images, ...suggestionsAt(document.getText(), position.line, position.character).map((suggestion) => {
          const item = new vscode.CompletionItem(suggestion.label, suggestion.kind === 'property' ? vscode.CompletionItemKind.Property : vscode.CompletionItemKind.Value);
          item.insertText = suggestion.insertText;
          item.detail = suggestion.detail;
          item.documentation = new vscode.MarkdownString(suggestion.documentation);
          item.preselect = suggestion.isDefault;
          if (suggestion.kind === 'property' && suggestion.insertText.endsWith(':')) {
            // An object or a list: open the nested block and ask for its keys.
            item.insertText = new vscode.SnippetString(`${suggestion.label}:\n  $0`);
            item.command = { title: 'Suggest', command: 'editor.action.triggerSuggest' };
          }
          return item;
        })];
      },
    }, ':', ' '),
    vscode.languages.registerHoverProvider(RUNTIME_FILE_SELECTOR, {
      provideHover(document, position) {
        if (redHatYamlActive()) return undefined;
        const hover = hoverAt(document.getText(), position.line, position.character);
        if (!hover) return undefined;
        return new vscode.Hover(new vscode.MarkdownString(hover.markdown), new vscode.Range(position.line, hover.start, position.line, hover.end));
      },
    }),
  );
}
