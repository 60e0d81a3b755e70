// The two React types @vireo/react's declarations name (the repository has no @types/react).
declare module "react" {
    export type ReactNode = unknown;
    export interface ReactElement { type: unknown }
}
