declare const DECLARATION_MARKER: string;
