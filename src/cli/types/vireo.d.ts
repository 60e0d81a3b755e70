/* eslint-disable */
/**
 * Vireo's server types: validators, schema, data model, database, function builders and
 * function references, with Convex's public names and shapes (`convex/values`,
 * `convex/server`), so that code written for Convex type-checks against Vireo without the
 * `convex` package. Validators are matched structurally (`type`, `isOptional`, `fieldPaths`,
 * `kind`), so validators from the real `convex/values` are accepted too.
 *
 * THIS FILE IS WRITTEN BY VIREO (`vireo codegen`, `vireo dev`); do not edit it.
 * @module
 */

/* ---------------------------------------------------------------- utilities */

/** Flattens an intersection into one object type (Convex's `Expand`). */
export type Expand<ObjectType extends Record<any, any>> = ObjectType extends Record<any, any>
  ? { [Key in keyof ObjectType]: ObjectType[Key] }
  : never;
export type UnionToIntersection<U> = (U extends any ? (k: U) => void : never) extends (
  k: infer I,
) => void
  ? I
  : never;
type BetterOmit<T, K extends keyof T> = { [Property in keyof T as Property extends K ? never : Property]: T[Property] };

/* ---------------------------------------------------------------- values */

/** An identifier of a document in table `TableName`: a string at run time. */
export type GenericId<TableName extends string> = string & { __tableName: TableName };
/** Convex's `Id` from `convex/values`. */
export type Id<TableName extends string> = GenericId<TableName>;

/** A value stored in the database or passed as an argument. */
export type Value =
  | null
  | bigint
  | number
  | boolean
  | string
  | ArrayBuffer
  | CommitTsPlaceholder
  | Value[]
  | { [key: string]: undefined | Value };
/**
 * `db.vars.commitTs`: written into a document field by a mutation, it becomes the mutation's
 * commit timestamp, an int64 (`bigint`); it is not a number while the mutation runs.
 */
export interface CommitTsPlaceholder {
  [Symbol.toPrimitive](hint: string): string;
  valueOf(): never;
  toJSON(): never;
  toString(): string;
}
export declare const CommitTsPlaceholder: { new (): CommitTsPlaceholder; prototype: CommitTsPlaceholder };
export type NumericValue = bigint | number;
export type JSONValue =
  | null
  | boolean
  | number
  | string
  | JSONValue[]
  | { [key: string]: JSONValue };

/** An error whose `data` reaches the client (Convex's `ConvexError`). */
export declare class ConvexError<TData extends Value> extends Error {
  name: string;
  data: TData;
  constructor(data: TData);
}
/** Vireo's name for {@link ConvexError}. */
export declare class VireoError<TData extends Value> extends ConvexError<TData> {}

/* ---------------------------------------------------------------- validators */

export type OptionalProperty = "optional" | "required";

/**
 * What every validator has: the phantom `type` (the TS type of the values it accepts),
 * `isOptional`, `fieldPaths` and `kind`. Checked structurally, so Convex's validators fit.
 */
export interface GenericValidator {
  readonly type: any;
  readonly fieldPaths: any;
  readonly isOptional: OptionalProperty;
  readonly isConvexValidator: true;
  readonly kind: string;
}
/** A validator of values of type `Type` (the constraint our builders and `v.*` use). */
export type ValidatorOf<Type, IsOptional extends OptionalProperty = OptionalProperty> = GenericValidator & {
  readonly type: Type;
  readonly isOptional: IsOptional;
};

declare abstract class BaseValidator<
  Type,
  IsOptional extends OptionalProperty = "required",
  FieldPaths extends string = never,
> {
  /** Only for TypeScript: the type of the values this validator accepts. */
  readonly type: Type;
  /** Only for TypeScript: for object validators, the paths of their fields. */
  readonly fieldPaths: FieldPaths;
  /** Whether this is an optional object property. */
  readonly isOptional: IsOptional;
  readonly isConvexValidator: true;
  abstract optional(): BaseValidator<Type | undefined, "optional", FieldPaths>;
}
type TableNameFromType<T> = T extends GenericId<infer TableName> ? TableName : string;
export declare class VId<Type, IsOptional extends OptionalProperty = "required"> extends BaseValidator<Type, IsOptional> {
  readonly tableName: TableNameFromType<Type>;
  readonly kind: "id";
  optional(): VId<Type | undefined, "optional">;
}
export declare class VFloat64<Type = number, IsOptional extends OptionalProperty = "required"> extends BaseValidator<Type, IsOptional> {
  readonly kind: "float64";
  optional(): VFloat64<Type | undefined, "optional">;
}
export declare class VInt64<Type = bigint, IsOptional extends OptionalProperty = "required"> extends BaseValidator<Type, IsOptional> {
  readonly kind: "int64";
  optional(): VInt64<Type | undefined, "optional">;
}
export declare class VCommitTs<Type = bigint | CommitTsPlaceholder, IsOptional extends OptionalProperty = "required"> extends BaseValidator<Type, IsOptional> {
  readonly kind: "commitTs";
  optional(): VCommitTs<Type | undefined, "optional">;
}
export declare class VBoolean<Type = boolean, IsOptional extends OptionalProperty = "required"> extends BaseValidator<Type, IsOptional> {
  readonly kind: "boolean";
  optional(): VBoolean<Type | undefined, "optional">;
}
export declare class VBytes<Type = ArrayBuffer, IsOptional extends OptionalProperty = "required"> extends BaseValidator<Type, IsOptional> {
  readonly kind: "bytes";
  optional(): VBytes<Type | undefined, "optional">;
}
export declare class VString<Type = string, IsOptional extends OptionalProperty = "required"> extends BaseValidator<Type, IsOptional> {
  readonly kind: "string";
  optional(): VString<Type | undefined, "optional">;
}
export declare class VNull<Type = null, IsOptional extends OptionalProperty = "required"> extends BaseValidator<Type, IsOptional> {
  readonly kind: "null";
  optional(): VNull<Type | undefined, "optional">;
}
export declare class VAny<Type = any, IsOptional extends OptionalProperty = "required", FieldPaths extends string = string> extends BaseValidator<Type, IsOptional, FieldPaths> {
  readonly kind: "any";
  optional(): VAny<Type | undefined, "optional", FieldPaths>;
}
export declare class VObject<
  Type,
  Fields extends Record<string, GenericValidator>,
  IsOptional extends OptionalProperty = "required",
  FieldPaths extends string = {
    [Property in keyof Fields]: JoinFieldPaths<Property & string, Fields[Property]["fieldPaths"]> | Property;
  }[keyof Fields] &
    string,
> extends BaseValidator<Type, IsOptional, FieldPaths> {
  readonly fields: Fields;
  readonly kind: "object";
  optional(): VObject<Type | undefined, Fields, "optional", FieldPaths>;
}
export declare class VLiteral<Type, IsOptional extends OptionalProperty = "required"> extends BaseValidator<Type, IsOptional> {
  readonly value: Type;
  readonly kind: "literal";
  optional(): VLiteral<Type | undefined, "optional">;
}
export declare class VArray<Type, Element extends GenericValidator, IsOptional extends OptionalProperty = "required"> extends BaseValidator<Type, IsOptional> {
  readonly element: Element;
  readonly kind: "array";
  optional(): VArray<Type | undefined, Element, "optional">;
}
export declare class VRecord<
  Type,
  Key extends GenericValidator,
  Value extends GenericValidator,
  IsOptional extends OptionalProperty = "required",
  FieldPaths extends string = string,
> extends BaseValidator<Type, IsOptional, FieldPaths> {
  readonly key: Key;
  readonly value: Value;
  readonly kind: "record";
  optional(): VRecord<Type | undefined, Key, Value, "optional", FieldPaths>;
}
export declare class VUnion<
  Type,
  T extends GenericValidator[],
  IsOptional extends OptionalProperty = "required",
  FieldPaths extends string = T[number]["fieldPaths"],
> extends BaseValidator<Type, IsOptional, FieldPaths> {
  readonly members: T;
  readonly kind: "union";
  optional(): VUnion<Type | undefined, T, "optional", FieldPaths>;
}

/** Any of Vireo's validators. */
export type Validator<Type, IsOptional extends OptionalProperty = "required", FieldPaths extends string = never> =
  | VId<Type, IsOptional>
  | VString<Type, IsOptional>
  | VFloat64<Type, IsOptional>
  | VInt64<Type, IsOptional>
  | VCommitTs<Type, IsOptional>
  | VBoolean<Type, IsOptional>
  | VNull<Type, IsOptional>
  | VAny<Type, IsOptional>
  | VLiteral<Type, IsOptional>
  | VBytes<Type, IsOptional>
  | VObject<Type, Record<string, GenericValidator>, IsOptional, FieldPaths>
  | VArray<Type, GenericValidator, IsOptional>
  | VRecord<Type, GenericValidator, GenericValidator, IsOptional, FieldPaths>
  | VUnion<Type, GenericValidator[], IsOptional, FieldPaths>;

/** The optional form of a validator: its type gains `undefined`, `isOptional` is "optional". */
export type VOptional<T extends GenericValidator> =
  T extends VId<infer Type, OptionalProperty> ? VId<Type | undefined, "optional">
  : T extends VString<infer Type, OptionalProperty> ? VString<Type | undefined, "optional">
  : T extends VFloat64<infer Type, OptionalProperty> ? VFloat64<Type | undefined, "optional">
  : T extends VInt64<infer Type, OptionalProperty> ? VInt64<Type | undefined, "optional">
  : T extends VCommitTs<infer Type, OptionalProperty> ? VCommitTs<Type | undefined, "optional">
  : T extends VBoolean<infer Type, OptionalProperty> ? VBoolean<Type | undefined, "optional">
  : T extends VNull<infer Type, OptionalProperty> ? VNull<Type | undefined, "optional">
  : T extends VAny<infer Type, OptionalProperty> ? VAny<Type | undefined, "optional">
  : T extends VLiteral<infer Type, OptionalProperty> ? VLiteral<Type | undefined, "optional">
  : T extends VBytes<infer Type, OptionalProperty> ? VBytes<Type | undefined, "optional">
  : T extends VObject<infer Type, infer Fields, OptionalProperty, infer FieldPaths> ? VObject<Type | undefined, Fields, "optional", FieldPaths>
  : T extends VArray<infer Type, infer Element, OptionalProperty> ? VArray<Type | undefined, Element, "optional">
  : T extends VRecord<infer Type, infer Key, infer Value, OptionalProperty, infer FieldPaths> ? VRecord<Type | undefined, Key, Value, "optional", FieldPaths>
  : T extends VUnion<infer Type, infer Members, OptionalProperty, infer FieldPaths> ? VUnion<Type | undefined, Members, "optional", FieldPaths>
  : Omit<T, "type" | "isOptional"> & { readonly type: T["type"] | undefined; readonly isOptional: "optional" };

export type JoinFieldPaths<Start extends string, End extends string> = `${Start}.${End}`;

/** An object of validators, as `args` and `defineTable` take them. */
export type PropertyValidators = Record<string, GenericValidator>;
type OptionalKeys<Fields extends Record<string, GenericValidator>> = {
  [Property in keyof Fields]: Fields[Property]["isOptional"] extends "optional" ? Property : never;
}[keyof Fields];
type RequiredKeys<Fields extends Record<string, GenericValidator>> = Exclude<keyof Fields, OptionalKeys<Fields>>;
/** The type of the object an object of validators accepts. */
export type ObjectType<Fields extends PropertyValidators> = Expand<
  { [Property in OptionalKeys<Fields>]?: Exclude<Infer<Fields[Property]>, undefined> } & {
    [Property in RequiredKeys<Fields>]: Infer<Fields[Property]>;
  }
>;
/** The TypeScript type of the values a validator accepts: `Infer<typeof v.object({...})>`. */
export type Infer<T extends GenericValidator> = T["type"];

type ObjectFieldPaths<T extends PropertyValidators> = {
  [Property in keyof T]: Property | `${Property & string}.${T[Property]["fieldPaths"]}`;
}[keyof T] &
  string;

/** The validator builder, `v.string()`, `v.object({...})` and the rest. */
export declare const v: {
  id<TableName extends string>(tableName: TableName): VId<GenericId<TableName>, "required">;
  null(): VNull<null, "required">;
  number(): VFloat64<number, "required">;
  float64(): VFloat64<number, "required">;
  bigint(): VInt64<bigint, "required">;
  int64(): VInt64<bigint, "required">;
  /** An int64 that a mutation sets to its commit timestamp by writing `db.vars.commitTs`. */
  commitTs(): VCommitTs<bigint | CommitTsPlaceholder, "required">;
  boolean(): VBoolean<boolean, "required">;
  string(): VString<string, "required">;
  bytes(): VBytes<ArrayBuffer, "required">;
  literal<T extends string | number | bigint | boolean>(literal: T): VLiteral<T, "required">;
  array<T extends GenericValidator>(element: T): VArray<T["type"][], T, "required">;
  object<T extends PropertyValidators>(fields: T): VObject<ObjectType<T>, T, "required", ObjectFieldPaths<T>>;
  record<Key extends ValidatorOf<string, "required">, Value extends GenericValidator>(
    keys: Key,
    values: Value,
  ): VRecord<Record<Infer<Key>, Value["type"]>, Key, Value, "required", string>;
  union<T extends GenericValidator[]>(...members: T): VUnion<T[number]["type"], T, "required", T[number]["fieldPaths"]>;
  any(): VAny<any, "required", string>;
  optional<T extends GenericValidator>(value: T): VOptional<T>;
  nullable<T extends GenericValidator>(value: T): VUnion<T["type"] | null, [T, VNull<null, "required">], "required", T["fieldPaths"]>;
};

/* ---------------------------------------------------------------- data model */

export type GenericDocument = Record<string, Value>;
export type GenericFieldPaths = string;
export type GenericIndexFields = string[];
export type GenericTableIndexes = Record<string, GenericIndexFields>;
export type GenericSearchIndexConfig = { searchField: string; filterFields: string };
export type GenericTableSearchIndexes = Record<string, GenericSearchIndexConfig>;
export type GenericVectorIndexConfig = { vectorField: string; dimensions: number; filterFields: string };
export type GenericTableVectorIndexes = Record<string, GenericVectorIndexConfig>;
export type GenericTableInfo = {
  document: GenericDocument;
  fieldPaths: GenericFieldPaths;
  indexes: GenericTableIndexes;
  searchIndexes: GenericTableSearchIndexes;
  vectorIndexes: GenericTableVectorIndexes;
};
export type GenericDataModel = Record<string, GenericTableInfo>;
/** A data model that allows any table and any document (no schema). */
export type AnyDataModel = {
  [tableName: string]: {
    document: any;
    fieldPaths: GenericFieldPaths;
    indexes: {};
    searchIndexes: {};
    vectorIndexes: {};
  };
};
export type TableNamesInDataModel<DataModel extends GenericDataModel> = keyof DataModel & string;
export type NamedTableInfo<DataModel extends GenericDataModel, TableName extends keyof DataModel> = DataModel[TableName];
export type DocumentByInfo<TableInfo extends GenericTableInfo> = TableInfo["document"];
export type DocumentByName<DataModel extends GenericDataModel, TableName extends TableNamesInDataModel<DataModel>> = DataModel[TableName]["document"];
export type FieldPaths<TableInfo extends GenericTableInfo> = TableInfo["fieldPaths"];
export type Indexes<TableInfo extends GenericTableInfo> = TableInfo["indexes"];
export type IndexNames<TableInfo extends GenericTableInfo> = keyof Indexes<TableInfo>;
export type NamedIndex<TableInfo extends GenericTableInfo, IndexName extends IndexNames<TableInfo>> = Indexes<TableInfo>[IndexName];
export type SearchIndexes<TableInfo extends GenericTableInfo> = TableInfo["searchIndexes"];
export type SearchIndexNames<TableInfo extends GenericTableInfo> = keyof SearchIndexes<TableInfo>;
export type NamedSearchIndex<TableInfo extends GenericTableInfo, IndexName extends SearchIndexNames<TableInfo>> = SearchIndexes<TableInfo>[IndexName];
export type VectorIndexes<TableInfo extends GenericTableInfo> = TableInfo["vectorIndexes"];
export type VectorIndexNames<TableInfo extends GenericTableInfo> = keyof VectorIndexes<TableInfo>;
export type NamedVectorIndex<TableInfo extends GenericTableInfo, IndexName extends VectorIndexNames<TableInfo>> = VectorIndexes<TableInfo>[IndexName];
/** A vector search's filter: `q.eq` on the index's filter fields, combined with `q.or`. */
export declare abstract class VectorFilterExpression<T extends Value | undefined> {
  private _isExpression: undefined;
  private _value: T;
}
export interface VectorFilterBuilder<Document extends GenericDocument, VectorIndexConfig extends GenericVectorIndexConfig> {
  eq<FieldName extends VectorIndexConfig["filterFields"]>(
    fieldName: FieldName,
    value: FieldTypeFromFieldPath<Document, FieldName>,
  ): VectorFilterExpression<boolean>;
  or(...exprs: Array<VectorFilterExpression<boolean>>): VectorFilterExpression<boolean>;
}
export interface VectorSearchQuery<TableInfo extends GenericTableInfo, IndexName extends VectorIndexNames<TableInfo>> {
  /** As long as the index's `dimensions`. */
  vector: number[];
  /** 1 to 256; default 10. */
  limit?: number;
  filter?: (
    q: VectorFilterBuilder<DocumentByInfo<TableInfo>, NamedVectorIndex<TableInfo, IndexName>>,
  ) => VectorFilterExpression<boolean>;
}

type ValueFromUnion<T, Key, Default> = T extends T ? (Key extends keyof T ? T[Key] : Default) : never;
/** The type of the field at a dotted path of a document ("author.name"). */
export type FieldTypeFromFieldPath<Document extends GenericDocument, FieldPath extends string> =
  FieldTypeFromFieldPathInner<Document, FieldPath> extends Value | undefined
    ? FieldTypeFromFieldPathInner<Document, FieldPath>
    : Value | undefined;
type FieldTypeFromFieldPathInner<Document extends GenericDocument, FieldPath extends string> =
  FieldPath extends `${infer First}.${infer Second}`
    ? ValueFromUnion<Document, First, Record<never, never>> extends infer FieldValue
      ? FieldValue extends GenericDocument
        ? FieldTypeFromFieldPath<FieldValue, Second>
        : undefined
      : undefined
    : ValueFromUnion<Document, FieldPath, undefined>;

/** The fields every document has. */
export type SystemFields = { _creationTime: number };
export type IdField<TableName extends string> = { _id: GenericId<TableName> };
export type WithoutSystemFields<Document extends GenericDocument> = Expand<BetterOmit<Document, keyof SystemFields | "_id">>;
export type WithOptionalSystemFields<Document extends GenericDocument> = Expand<
  WithoutSystemFields<Document> & Partial<Pick<Document, keyof SystemFields | "_id">>
>;
export type SystemIndexes = { by_id: ["_id"]; by_creation_time: ["_creationTime"] };
export type IndexTiebreakerField = "_creationTime";
/** System tables (read through `ctx.db.system`). */
export type SystemTableNames = "_scheduled_functions" | "_storage";
export type SystemDataModel = {
  _scheduled_functions: {
    document: {
      _id: GenericId<"_scheduled_functions">;
      _creationTime: number;
      name: string;
      args: any[];
      scheduledTime: number;
      completedTime?: number;
      state:
        | { kind: "pending" }
        | { kind: "inProgress" }
        | { kind: "success" }
        | { kind: "failed"; error: string }
        | { kind: "canceled" };
    };
    fieldPaths: "_id" | "_creationTime" | "name" | "args" | "scheduledTime" | "completedTime" | "state" | "state.kind" | "state.error";
    indexes: SystemIndexes;
    searchIndexes: {};
    vectorIndexes: {};
  };
  _storage: {
    document: {
      _id: GenericId<"_storage">;
      _creationTime: number;
      sha256: string;
      size: number;
      contentType?: string;
    };
    fieldPaths: "_id" | "_creationTime" | "sha256" | "size" | "contentType";
    indexes: SystemIndexes;
    searchIndexes: {};
    vectorIndexes: {};
  };
};

/* ---------------------------------------------------------------- schema */

type ExtractFieldPaths<T extends GenericValidator> = T["fieldPaths"] | keyof SystemFields;
type ExtractDocument<T extends GenericValidator> = Expand<SystemFields & T["type"]>;

export interface SearchIndexConfig<SearchField extends string, FilterFields extends string> {
  searchField: SearchField;
  filterFields?: FilterFields[];
}
export interface VectorIndexConfig<VectorField extends string, FilterFields extends string> {
  vectorField: VectorField;
  dimensions: number;
  filterFields?: FilterFields[];
}

/** A table of a schema: its document validator and its indexes (from `defineTable`). */
export declare class TableDefinition<
  DocumentType extends GenericValidator = GenericValidator,
  Indexes extends GenericTableIndexes = {},
  SearchIndexes extends GenericTableSearchIndexes = {},
  VectorIndexes extends GenericTableVectorIndexes = {},
> {
  private indexes;
  private searchIndexes;
  private vectorIndexes;
  validator: DocumentType;
  /** Defines an index on `fields` (in order); queries use it with `withIndex(name, ...)`. */
  index<
    IndexName extends string,
    FirstFieldPath extends ExtractFieldPaths<DocumentType>,
    RestFieldPaths extends ExtractFieldPaths<DocumentType>[],
  >(
    name: IndexName,
    fields: [FirstFieldPath, ...RestFieldPaths] | { fields: [FirstFieldPath, ...RestFieldPaths] },
  ): TableDefinition<
    DocumentType,
    Expand<Indexes & Record<IndexName, [FirstFieldPath, ...RestFieldPaths, IndexTiebreakerField]>>,
    SearchIndexes,
    VectorIndexes
  >;
  searchIndex<
    IndexName extends string,
    SearchField extends ExtractFieldPaths<DocumentType>,
    FilterFields extends ExtractFieldPaths<DocumentType> = never,
  >(
    name: IndexName,
    indexConfig: Expand<SearchIndexConfig<SearchField, FilterFields>>,
  ): TableDefinition<
    DocumentType,
    Indexes,
    Expand<SearchIndexes & Record<IndexName, { searchField: SearchField; filterFields: FilterFields }>>,
    VectorIndexes
  >;
  vectorIndex<
    IndexName extends string,
    VectorField extends ExtractFieldPaths<DocumentType>,
    FilterFields extends ExtractFieldPaths<DocumentType> = never,
  >(
    name: IndexName,
    indexConfig: Expand<VectorIndexConfig<VectorField, FilterFields>>,
  ): TableDefinition<
    DocumentType,
    Indexes,
    SearchIndexes,
    Expand<VectorIndexes & Record<IndexName, { vectorField: VectorField; dimensions: number; filterFields: FilterFields }>>
  >;
}

export declare function defineTable<DocumentSchema extends ValidatorOf<Record<string, any>, "required">>(
  documentSchema: DocumentSchema,
): TableDefinition<DocumentSchema>;
export declare function defineTable<DocumentSchema extends PropertyValidators>(
  documentSchema: DocumentSchema,
): TableDefinition<VObject<ObjectType<DocumentSchema>, DocumentSchema, "required", ObjectFieldPaths<DocumentSchema>>>;

export type GenericSchema = Record<string, TableDefinition<any, any, any, any>>;
export interface DefineSchemaOptions<StrictTableNameTypes extends boolean> {
  schemaValidation?: boolean;
  strictTableNameTypes?: StrictTableNameTypes;
}
/** A schema: its tables (from `defineSchema`). */
export declare class SchemaDefinition<Schema extends GenericSchema, StrictTableTypes extends boolean> {
  tables: Schema;
  strictTableNameTypes: StrictTableTypes;
  readonly schemaValidation: boolean;
}
export declare function defineSchema<Schema extends GenericSchema, StrictTableNameTypes extends boolean = true>(
  schema: Schema,
  options?: DefineSchemaOptions<StrictTableNameTypes>,
): SchemaDefinition<Schema, StrictTableNameTypes>;

/*
 * A table's info for the data model. Tables made by Vireo's `defineTable` carry their indexes; a
 * table made by another package's `defineTable` (whose index types TypeScript cannot read) still
 * gets its documents and field paths, with indexes left open (any name, any fields).
 */
type TableInfoFromDefinition<TableName extends string, Table> =
  Table extends TableDefinition<infer DocumentType, infer Indexes, infer SearchIndexes, infer VectorIndexes>
    ? {
        document: Expand<IdField<TableName> & ExtractDocument<DocumentType>>;
        fieldPaths: keyof IdField<TableName> | ExtractFieldPaths<DocumentType>;
        indexes: Expand<Indexes & SystemIndexes>;
        searchIndexes: SearchIndexes;
        vectorIndexes: VectorIndexes;
      }
    : Table extends { validator: infer DocumentType extends GenericValidator }
      ? {
          document: Expand<IdField<TableName> & ExtractDocument<DocumentType>>;
          fieldPaths: keyof IdField<TableName> | ExtractFieldPaths<DocumentType>;
          indexes: GenericTableIndexes & SystemIndexes;
          searchIndexes: GenericTableSearchIndexes;
          vectorIndexes: GenericTableVectorIndexes;
        }
      : never;

/** The data model of a schema: `DataModelFromSchemaDefinition<typeof schema>`. */
export type DataModelFromSchemaDefinition<SchemaDef extends { tables: Record<string, any>; strictTableNameTypes: boolean }> =
  MaybeMakeLooseDataModel<
    { [TableName in keyof SchemaDef["tables"] & string]: TableInfoFromDefinition<TableName, SchemaDef["tables"][TableName]> },
    SchemaDef["strictTableNameTypes"]
  >;
type MaybeMakeLooseDataModel<DataModel extends GenericDataModel, StrictTableNameTypes extends boolean> =
  StrictTableNameTypes extends true ? DataModel : Expand<DataModel & AnyDataModel>;

/* ---------------------------------------------------------------- queries */

/** Bounds an index range: `q.eq("a", 1).gt("b", 2)` (equalities first, in the index's order). */
type PlusOne<N extends number> = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16][N];
export interface IndexRange {}
export interface IndexRangeBuilder<Document extends GenericDocument, IndexFields extends GenericIndexFields, FieldNum extends number = 0>
  extends LowerBoundIndexRangeBuilder<Document, IndexFields[FieldNum]> {
  eq(
    fieldName: IndexFields[FieldNum],
    value: IndexFieldValue<Document, IndexFields[FieldNum]>,
  ): NextIndexRangeBuilder<Document, IndexFields, FieldNum>;
}
/* An index whose fields are not known (a table defined with another package's defineTable) takes
 * any field and value. */
type IndexFieldValue<Document extends GenericDocument, FieldPath extends string> =
  string extends FieldPath ? any : FieldTypeFromFieldPath<Document, FieldPath>;
type NextIndexRangeBuilder<Document extends GenericDocument, IndexFields extends GenericIndexFields, FieldNum extends number> =
  number extends IndexFields["length"]
    ? IndexRangeBuilder<Document, IndexFields, FieldNum>
    : PlusOne<FieldNum> extends IndexFields["length"]
      ? IndexRange
      : IndexRangeBuilder<Document, IndexFields, PlusOne<FieldNum>>;
export interface LowerBoundIndexRangeBuilder<Document extends GenericDocument, IndexFieldName extends string>
  extends UpperBoundIndexRangeBuilder<Document, IndexFieldName> {
  gt(fieldName: IndexFieldName, value: IndexFieldValue<Document, IndexFieldName>): UpperBoundIndexRangeBuilder<Document, IndexFieldName>;
  gte(fieldName: IndexFieldName, value: IndexFieldValue<Document, IndexFieldName>): UpperBoundIndexRangeBuilder<Document, IndexFieldName>;
}
export interface UpperBoundIndexRangeBuilder<Document extends GenericDocument, IndexFieldName extends string> extends IndexRange {
  lt(fieldName: IndexFieldName, value: IndexFieldValue<Document, IndexFieldName>): IndexRange;
  lte(fieldName: IndexFieldName, value: IndexFieldValue<Document, IndexFieldName>): IndexRange;
}

/** An expression inside `.filter(q => ...)`. */
export declare abstract class Expression<T extends Value | undefined> {
  private _isExpression;
  private _value;
}
export type ExpressionOrValue<T extends Value | undefined> = Expression<T> | T;
export interface FilterBuilder<TableInfo extends GenericTableInfo> {
  eq<T extends Value | undefined>(l: ExpressionOrValue<T>, r: ExpressionOrValue<T>): Expression<boolean>;
  neq<T extends Value | undefined>(l: ExpressionOrValue<T>, r: ExpressionOrValue<T>): Expression<boolean>;
  lt<T extends Value>(l: ExpressionOrValue<T>, r: ExpressionOrValue<T>): Expression<boolean>;
  lte<T extends Value>(l: ExpressionOrValue<T>, r: ExpressionOrValue<T>): Expression<boolean>;
  gt<T extends Value>(l: ExpressionOrValue<T>, r: ExpressionOrValue<T>): Expression<boolean>;
  gte<T extends Value>(l: ExpressionOrValue<T>, r: ExpressionOrValue<T>): Expression<boolean>;
  add<T extends NumericValue>(l: ExpressionOrValue<T>, r: ExpressionOrValue<T>): Expression<T>;
  sub<T extends NumericValue>(l: ExpressionOrValue<T>, r: ExpressionOrValue<T>): Expression<T>;
  mul<T extends NumericValue>(l: ExpressionOrValue<T>, r: ExpressionOrValue<T>): Expression<T>;
  div<T extends NumericValue>(l: ExpressionOrValue<T>, r: ExpressionOrValue<T>): Expression<T>;
  mod<T extends NumericValue>(l: ExpressionOrValue<T>, r: ExpressionOrValue<T>): Expression<T>;
  neg<T extends NumericValue>(x: ExpressionOrValue<T>): Expression<T>;
  and(...exprs: Array<ExpressionOrValue<boolean>>): Expression<boolean>;
  or(...exprs: Array<ExpressionOrValue<boolean>>): Expression<boolean>;
  not(x: ExpressionOrValue<boolean>): Expression<boolean>;
  field<FieldPath extends FieldPaths<TableInfo>>(
    fieldPath: FieldPath,
  ): Expression<FieldTypeFromFieldPath<DocumentByInfo<TableInfo>, FieldPath>>;
}

/** `withSearchIndex(name, q => q.search(field, text).eq(filterField, value))`. */
export interface SearchFilterBuilder<Document extends GenericDocument, SearchIndexConfig extends GenericSearchIndexConfig> {
  search(fieldName: SearchIndexConfig["searchField"], query: string): SearchFilterFinalizer<Document, SearchIndexConfig>;
}
export interface SearchFilterFinalizer<Document extends GenericDocument, SearchIndexConfig extends GenericSearchIndexConfig> extends SearchFilter {
  eq<FieldName extends SearchIndexConfig["filterFields"]>(
    fieldName: FieldName,
    value: FieldTypeFromFieldPath<Document, FieldName>,
  ): SearchFilterFinalizer<Document, SearchIndexConfig>;
}
export interface SearchFilter {}

export interface PaginationOptions {
  numItems: number;
  cursor: string | null;
  endCursor?: string | null;
  id?: number;
  maximumRowsRead?: number;
  maximumBytesRead?: number;
}
export interface PaginationResult<T> {
  page: T[];
  isDone: boolean;
  continueCursor: string;
  splitCursor?: string | null;
  pageStatus?: "SplitRecommended" | "SplitRequired" | null;
}
export type Cursor = string;
export declare const paginationOptsValidator: VObject<
  { numItems: number; cursor: string | null; endCursor?: string | null; id?: number; maximumRowsRead?: number; maximumBytesRead?: number },
  {
    numItems: VFloat64<number>;
    cursor: VUnion<string | null, [VString<string>, VNull<null>]>;
    endCursor: VUnion<string | null | undefined, [VString<string>, VNull<null>], "optional">;
    id: VFloat64<number | undefined, "optional">;
    maximumRowsRead: VFloat64<number | undefined, "optional">;
    maximumBytesRead: VFloat64<number | undefined, "optional">;
  }
>;

/** A query that can be run: `collect`, `take`, `first`, `unique`, `paginate`, `count`, `for await`. */
export interface OrderedQuery<TableInfo extends GenericTableInfo> extends AsyncIterable<DocumentByInfo<TableInfo>> {
  filter(predicate: (q: FilterBuilder<TableInfo>) => ExpressionOrValue<boolean>): this;
  paginate(paginationOpts: PaginationOptions): Promise<PaginationResult<DocumentByInfo<TableInfo>>>;
  collect(): Promise<Array<DocumentByInfo<TableInfo>>>;
  take(n: number): Promise<Array<DocumentByInfo<TableInfo>>>;
  first(): Promise<DocumentByInfo<TableInfo> | null>;
  unique(): Promise<DocumentByInfo<TableInfo> | null>;
  count(): Promise<number>;
}
export interface Query<TableInfo extends GenericTableInfo> extends OrderedQuery<TableInfo> {
  order(order: "asc" | "desc"): OrderedQuery<TableInfo>;
}
export interface QueryInitializer<TableInfo extends GenericTableInfo> extends Query<TableInfo> {
  fullTableScan(): Query<TableInfo>;
  withIndex<IndexName extends IndexNames<TableInfo>>(
    indexName: IndexName,
    indexRange?: (
      q: IndexRangeBuilder<DocumentByInfo<TableInfo>, NamedIndex<TableInfo, IndexName>>,
    ) => IndexRange,
  ): Query<TableInfo>;
  withSearchIndex<IndexName extends SearchIndexNames<TableInfo>>(
    indexName: IndexName,
    searchFilter: (
      q: SearchFilterBuilder<DocumentByInfo<TableInfo>, NamedSearchIndex<TableInfo, IndexName>>,
    ) => SearchFilter,
  ): OrderedQuery<TableInfo>;
}

/* ---------------------------------------------------------------- database */

/** `ctx.db` in queries: `get` by id and `query` a table. */
export interface GenericDatabaseReader<DataModel extends GenericDataModel> extends BaseDatabaseReader<DataModel> {
  /** Read-only access to system tables (`_scheduled_functions`, `_storage`). */
  system: BaseDatabaseReader<SystemDataModel>;
}
export interface BaseDatabaseReader<DataModel extends GenericDataModel> {
  get<TableName extends TableNamesInDataModel<DataModel>>(
    table: TableName,
    id: GenericId<NonUnion<TableName>>,
  ): Promise<DocumentByName<DataModel, TableName> | null>;
  get<TableName extends TableNamesInDataModel<DataModel>>(
    id: GenericId<TableName>,
  ): Promise<DocumentByName<DataModel, TableName> | null>;
  query<TableName extends TableNamesInDataModel<DataModel>>(
    tableName: TableName,
  ): QueryInitializer<NamedTableInfo<DataModel, TableName>>;
  /** The id as a table's `Id`, or null when it is not an id of that table. */
  normalizeId<TableName extends TableNamesInDataModel<DataModel>>(
    tableName: TableName,
    id: string,
  ): GenericId<TableName> | null;
  /** The table's own view: its methods take no table name, and check ids against this one. */
  table<TableName extends TableNamesInDataModel<DataModel>>(tableName: TableName): TableReader<DataModel, TableName>;
}
export interface TableReader<DataModel extends GenericDataModel, TableName extends TableNamesInDataModel<DataModel>> {
  readonly tableName: TableName;
  get(id: GenericId<TableName>): Promise<DocumentByName<DataModel, TableName> | null>;
  query(): QueryInitializer<NamedTableInfo<DataModel, TableName>>;
}
export interface TableWriter<DataModel extends GenericDataModel, TableName extends TableNamesInDataModel<DataModel>>
  extends TableReader<DataModel, TableName> {
  insert(value: WithoutSystemFields<DocumentByName<DataModel, TableName>>): Promise<GenericId<TableName>>;
  patch(id: GenericId<TableName>, value: PatchValue<DocumentByName<DataModel, TableName>>): Promise<void>;
  replace(id: GenericId<TableName>, value: WithOptionalSystemFields<DocumentByName<DataModel, TableName>>): Promise<void>;
  delete(id: GenericId<TableName>): Promise<void>;
}
type NonUnion<T> = T extends never ? never : T;
/** `ctx.db` in mutations: reads plus `insert`, `patch`, `replace`, `delete`. */
export interface GenericDatabaseWriter<DataModel extends GenericDataModel> extends GenericDatabaseReader<DataModel> {
  insert<TableName extends TableNamesInDataModel<DataModel>>(
    table: TableName,
    value: WithoutSystemFields<DocumentByName<DataModel, TableName>>,
  ): Promise<GenericId<TableName>>;
  patch<TableName extends TableNamesInDataModel<DataModel>>(
    table: TableName,
    id: GenericId<NonUnion<TableName>>,
    value: PatchValue<DocumentByName<DataModel, TableName>>,
  ): Promise<void>;
  patch<TableName extends TableNamesInDataModel<DataModel>>(
    id: GenericId<TableName>,
    value: PatchValue<DocumentByName<DataModel, TableName>>,
  ): Promise<void>;
  replace<TableName extends TableNamesInDataModel<DataModel>>(
    table: TableName,
    id: GenericId<NonUnion<TableName>>,
    value: WithOptionalSystemFields<DocumentByName<DataModel, TableName>>,
  ): Promise<void>;
  replace<TableName extends TableNamesInDataModel<DataModel>>(
    id: GenericId<TableName>,
    value: WithOptionalSystemFields<DocumentByName<DataModel, TableName>>,
  ): Promise<void>;
  delete<TableName extends TableNamesInDataModel<DataModel>>(table: TableName, id: GenericId<NonUnion<TableName>>): Promise<void>;
  delete(id: GenericId<TableNamesInDataModel<DataModel>>): Promise<void>;
  table<TableName extends TableNamesInDataModel<DataModel>>(tableName: TableName): TableWriter<DataModel, TableName>;
  /** Values known only when the mutation commits. */
  vars: {
    /** The commit timestamp: write it into a field (`v.commitTs()`) to store when this committed. */
    commitTs: CommitTsPlaceholder;
  };
}
/** What `patch` takes: some fields; `undefined` removes an optional field. */
export type PatchValue<T> = {
  [P in keyof T]?: undefined extends T[P] ? T[P] | undefined : T[P];
};

/* ---------------------------------------------------------------- ctx services */

export interface UserIdentity {
  readonly tokenIdentifier: string;
  readonly subject: string;
  readonly issuer: string;
  readonly name?: string;
  readonly givenName?: string;
  readonly familyName?: string;
  readonly nickname?: string;
  readonly preferredUsername?: string;
  readonly profileUrl?: string;
  readonly pictureUrl?: string;
  readonly email?: string;
  readonly emailVerified?: boolean;
  readonly gender?: string;
  readonly birthday?: string;
  readonly timezone?: string;
  readonly language?: string;
  readonly phoneNumber?: string;
  readonly phoneNumberVerified?: boolean;
  readonly address?: string;
  readonly updatedAt?: string;
  readonly [key: string]: JSONValue | undefined;
}
export interface Auth {
  getUserIdentity(): Promise<UserIdentity | null>;
}

export type StorageId = string;
export type FileStorageId = GenericId<"_storage"> | StorageId;
export type FileMetadata = { storageId: StorageId; sha256: string; size: number; contentType: string | null };
export interface StorageReader {
  getUrl(storageId: GenericId<"_storage">): Promise<string | null>;
  getUrl<T extends StorageId>(storageId: T extends { __tableName: any } ? never : T): Promise<string | null>;
  getMetadata(storageId: GenericId<"_storage"> | StorageId): Promise<FileMetadata | null>;
}
export interface StorageWriter extends StorageReader {
  generateUploadUrl(): Promise<string>;
  delete(storageId: GenericId<"_storage"> | StorageId): Promise<void>;
}
export interface StorageActionWriter extends StorageWriter {
  get(storageId: GenericId<"_storage"> | StorageId): Promise<Blob | null>;
  store(blob: Blob, options?: { sha256?: string }): Promise<GenericId<"_storage">>;
}

export type SchedulableFunctionReference = FunctionReference<"mutation" | "action", "public" | "internal">;
export interface Scheduler {
  runAfter<FuncRef extends SchedulableFunctionReference>(
    delayMs: number,
    functionReference: FuncRef,
    ...args: OptionalRestArgs<FuncRef>
  ): Promise<GenericId<"_scheduled_functions">>;
  runAt<FuncRef extends SchedulableFunctionReference>(
    timestamp: number | Date,
    functionReference: FuncRef,
    ...args: OptionalRestArgs<FuncRef>
  ): Promise<GenericId<"_scheduled_functions">>;
  cancel(id: GenericId<"_scheduled_functions">): Promise<void>;
}

/* ---------------------------------------------------------------- functions */

export type FunctionType = "query" | "mutation" | "action";
export type FunctionVisibility = "public" | "internal";
export type DefaultFunctionArgs = Record<string, unknown>;
export type EmptyObject = Record<string, never>;
type OneArgArray<ArgsObject extends DefaultFunctionArgs = DefaultFunctionArgs> = [ArgsObject];
type NoArgsArray = [];
export type ArgsArray = OneArgArray | NoArgsArray;
export type ArgsArrayToObject<Args extends ArgsArray> = Args extends OneArgArray<infer ArgsObject> ? ArgsObject : EmptyObject;

/**
 * A reference to a function: `api.messages.list`. Its type carries the function's kind,
 * visibility, argument object and return type; at run time it names the function.
 */
export type FunctionReference<
  Type extends FunctionType,
  Visibility extends FunctionVisibility = "public",
  Args extends DefaultFunctionArgs = any,
  ReturnType = any,
  ComponentPath = string | undefined,
> = {
  _type: Type;
  _visibility: Visibility;
  _args: Args;
  _returnType: ReturnType;
  _componentPath: ComponentPath;
};
export type AnyFunctionReference = FunctionReference<any, any>;
export type FunctionArgs<FuncRef extends AnyFunctionReference> = FuncRef["_args"];
export type FunctionReturnType<FuncRef extends AnyFunctionReference> = FuncRef["_returnType"];
export type OptionalRestArgs<FuncRef extends AnyFunctionReference> =
  FuncRef["_args"] extends EmptyObject ? [args?: EmptyObject] : [args: FuncRef["_args"]];
export type ArgsAndOptions<FuncRef extends AnyFunctionReference, Options> =
  FuncRef["_args"] extends EmptyObject ? [args?: EmptyObject, options?: Options] : [args: FuncRef["_args"], options?: Options];

type VisibilityProperties<Visibility extends FunctionVisibility> = { _visibility: Visibility } & (Visibility extends "public"
  ? { isPublic: true }
  : { isInternal: true });
/** What `query(...)` returns; export it from a module to make it `api.module.name`. */
export type RegisteredQuery<Visibility extends FunctionVisibility, Args extends DefaultFunctionArgs, Returns> = {
  isConvexFunction: true;
  isQuery: true;
} & VisibilityProperties<Visibility>;
export type RegisteredMutation<Visibility extends FunctionVisibility, Args extends DefaultFunctionArgs, Returns> = {
  isConvexFunction: true;
  isMutation: true;
} & VisibilityProperties<Visibility>;
export type RegisteredAction<Visibility extends FunctionVisibility, Args extends DefaultFunctionArgs, Returns> = {
  isConvexFunction: true;
  isAction: true;
} & VisibilityProperties<Visibility>;
export type PublicHttpAction = { isHttp: true };

/** `{used, remaining}` of one of a transaction's limits. */
export type TransactionMetric = { used: number; remaining: number };
/** What a query's or mutation's transaction has used of its limits, and what is left. */
export type TransactionMetrics = {
  bytesRead: TransactionMetric;
  bytesWritten: TransactionMetric;
  databaseQueries: TransactionMetric;
  documentsRead: TransactionMetric;
  documentsWritten: TransactionMetric;
  functionsScheduled: TransactionMetric;
  scheduledFunctionArgsBytes: TransactionMetric;
  filesWritten: TransactionMetric;
  fileWriteBytes: TransactionMetric;
  filesRead: TransactionMetric;
  fileReadBytes: TransactionMetric;
};
export type FunctionMetadata = {
  /** `"path/to/module:functionName"`; an HTTP action's route, `"GET /path"` */
  name: string;
  /** `""`: Vireo has no components */
  componentPath: string;
  type: "query" | "mutation" | "action";
  visibility: "public" | "internal";
};
export type DeploymentMetadata = {
  /** the tenant's name, or `"vireo"` */
  name: string;
  region: string | null;
  class: "s16" | "s256" | "d1024" | "d2048";
};
export type RequestMetadata = {
  ip: string | null;
  userAgent: string | null;
  requestId: string;
  scheduledFunctionId: string | null;
  authToken: string | null;
};
/** `ctx.meta` in queries. */
export interface QueryMeta {
  getFunctionMetadata(): Promise<FunctionMetadata>;
  getTransactionMetrics(): Promise<TransactionMetrics>;
  getDeploymentMetadata(): Promise<DeploymentMetadata>;
  /** The store version this transaction reads at (Convex's snapshot timestamp). */
  getSnapshotTs(): bigint;
}
/** `ctx.meta` in mutations. */
export interface MutationMeta extends QueryMeta {
  /** Where the call came from; the calls it makes see the same. */
  getRequestMetadata(): Promise<RequestMetadata>;
}
/** `ctx.meta` in actions and HTTP actions. */
export interface ActionMeta {
  getFunctionMetadata(): Promise<FunctionMetadata>;
  getDeploymentMetadata(): Promise<DeploymentMetadata>;
  /** Where the call came from; the calls it makes see the same. */
  getRequestMetadata(): Promise<RequestMetadata>;
}

/** Lower limits for a nested call (`transactionLimits`): the most it may use of each. */
export interface TransactionLimits {
  bytesRead?: number;
  bytesWritten?: number;
  databaseQueries?: number;
  documentsRead?: number;
  documentsWritten?: number;
  functionsScheduled?: number;
  scheduledFunctionArgsBytes?: number;
  filesWritten?: number;
  fileWriteBytes?: number;
  filesRead?: number;
  fileReadBytes?: number;
}
/** The options of a nested `ctx.runQuery`. */
export interface AdvancedRunQueryOptions {
  transactionLimits?: TransactionLimits;
  /** Accepted: the nested query reads the caller's snapshot. */
  useStaleSnapshot?: boolean;
}

export interface GenericQueryCtx<DataModel extends GenericDataModel> {
  db: GenericDatabaseReader<DataModel>;
  meta: QueryMeta;
  auth: Auth;
  storage: StorageReader;
  runQuery: <Query extends FunctionReference<"query", "public" | "internal">>(
    query: Query,
    ...args: ArgsAndOptions<Query, AdvancedRunQueryOptions>
  ) => Promise<FunctionReturnType<Query>>;
}
export interface GenericMutationCtx<DataModel extends GenericDataModel> {
  db: GenericDatabaseWriter<DataModel>;
  meta: MutationMeta;
  auth: Auth;
  storage: StorageWriter;
  scheduler: Scheduler;
  runQuery: <Query extends FunctionReference<"query", "public" | "internal">>(
    query: Query,
    ...args: ArgsAndOptions<Query, AdvancedRunQueryOptions>
  ) => Promise<FunctionReturnType<Query>>;
  runMutation: <Mutation extends FunctionReference<"mutation", "public" | "internal">>(
    mutation: Mutation,
    ...args: ArgsAndOptions<Mutation, { transactionLimits?: TransactionLimits }>
  ) => Promise<FunctionReturnType<Mutation>>;
}
export interface GenericActionCtx<DataModel extends GenericDataModel> {
  runQuery<Query extends FunctionReference<"query", "public" | "internal">>(
    query: Query,
    ...args: OptionalRestArgs<Query>
  ): Promise<FunctionReturnType<Query>>;
  runMutation<Mutation extends FunctionReference<"mutation", "public" | "internal">>(
    mutation: Mutation,
    ...args: OptionalRestArgs<Mutation>
  ): Promise<FunctionReturnType<Mutation>>;
  runAction<Action extends FunctionReference<"action", "public" | "internal">>(
    action: Action,
    ...args: OptionalRestArgs<Action>
  ): Promise<FunctionReturnType<Action>>;
  scheduler: Scheduler;
  auth: Auth;
  storage: StorageActionWriter;
  meta: ActionMeta;
  /** The documents most similar to `query.vector` (cosine), best first: `{_id, _score}`. */
  vectorSearch<
    TableName extends TableNamesInDataModel<DataModel>,
    IndexName extends VectorIndexNames<NamedTableInfo<DataModel, TableName>>,
  >(
    tableName: TableName,
    indexName: IndexName,
    query: Expand<VectorSearchQuery<NamedTableInfo<DataModel, TableName>, IndexName>>,
  ): Promise<Array<{ _id: Id<TableName>; _score: number }>>;
}

type NullToUndefinedOrNull<T> = T extends null ? T | undefined | void : T;
export type ValidatorTypeToReturnType<T> = Promise<NullToUndefinedOrNull<T>> | NullToUndefinedOrNull<T>;
type ArgsValidatorLike = PropertyValidators | ValidatorOf<any, "required"> | void;
export type ReturnValueForOptionalValidator<ReturnsValidator extends ArgsValidatorLike> = [ReturnsValidator] extends [GenericValidator]
  ? ValidatorTypeToReturnType<Infer<ReturnsValidator>>
  : [ReturnsValidator] extends [PropertyValidators]
    ? ValidatorTypeToReturnType<ObjectType<ReturnsValidator>>
    : any;
export type ArgsArrayForOptionalValidator<ArgsValidator extends ArgsValidatorLike> = [ArgsValidator] extends [GenericValidator]
  ? OneArgArray<Infer<ArgsValidator>>
  : [ArgsValidator] extends [PropertyValidators]
    ? OneArgArray<ObjectType<ArgsValidator>>
    : ArgsArray;
export type DefaultArgsForOptionalValidator<ArgsValidator extends ArgsValidatorLike> = [ArgsValidator] extends [GenericValidator]
  ? [Infer<ArgsValidator>]
  : [ArgsValidator] extends [PropertyValidators]
    ? [ObjectType<ArgsValidator>]
    : OneArgArray;

/**
 * `query({ args, returns, handler })` or `query(handler)`: the handler's argument object is typed
 * from `args`, its result checked against `returns`.
 */
export type QueryBuilder<DataModel extends GenericDataModel, Visibility extends FunctionVisibility> = {
  <
    ArgsValidator extends ArgsValidatorLike,
    ReturnsValidator extends ArgsValidatorLike,
    ReturnValue extends ReturnValueForOptionalValidator<ReturnsValidator> = any,
    OneOrZeroArgs extends ArgsArrayForOptionalValidator<ArgsValidator> = DefaultArgsForOptionalValidator<ArgsValidator>,
  >(
    query:
      | {
          args?: ArgsValidator;
          returns?: ReturnsValidator;
          handler: (ctx: GenericQueryCtx<DataModel>, ...args: OneOrZeroArgs) => ReturnValue;
        }
      | { (ctx: GenericQueryCtx<DataModel>, ...args: OneOrZeroArgs): ReturnValue },
  ): RegisteredQuery<Visibility, ArgsArrayToObject<OneOrZeroArgs>, ReturnValue>;
};
export type MutationBuilder<DataModel extends GenericDataModel, Visibility extends FunctionVisibility> = {
  <
    ArgsValidator extends ArgsValidatorLike,
    ReturnsValidator extends ArgsValidatorLike,
    ReturnValue extends ReturnValueForOptionalValidator<ReturnsValidator> = any,
    OneOrZeroArgs extends ArgsArrayForOptionalValidator<ArgsValidator> = DefaultArgsForOptionalValidator<ArgsValidator>,
  >(
    mutation:
      | {
          args?: ArgsValidator;
          returns?: ReturnsValidator;
          handler: (ctx: GenericMutationCtx<DataModel>, ...args: OneOrZeroArgs) => ReturnValue;
        }
      | { (ctx: GenericMutationCtx<DataModel>, ...args: OneOrZeroArgs): ReturnValue },
  ): RegisteredMutation<Visibility, ArgsArrayToObject<OneOrZeroArgs>, ReturnValue>;
};
export type ActionBuilder<DataModel extends GenericDataModel, Visibility extends FunctionVisibility> = {
  <
    ArgsValidator extends ArgsValidatorLike,
    ReturnsValidator extends ArgsValidatorLike,
    ReturnValue extends ReturnValueForOptionalValidator<ReturnsValidator> = any,
    OneOrZeroArgs extends ArgsArrayForOptionalValidator<ArgsValidator> = DefaultArgsForOptionalValidator<ArgsValidator>,
  >(
    func:
      | {
          args?: ArgsValidator;
          returns?: ReturnsValidator;
          handler: (ctx: GenericActionCtx<DataModel>, ...args: OneOrZeroArgs) => ReturnValue;
        }
      | { (ctx: GenericActionCtx<DataModel>, ...args: OneOrZeroArgs): ReturnValue },
  ): RegisteredAction<Visibility, ArgsArrayToObject<OneOrZeroArgs>, ReturnValue>;
};
export type HttpActionBuilder = (
  func: (ctx: GenericActionCtx<any>, request: Request) => Promise<Response>,
) => PublicHttpAction;

/* ---------------------------------------------------------------- api */

type UndefinedToNull<T> = T extends void ? null : T;
export type ConvertReturnType<T> = UndefinedToNull<Awaited<T>>;
export type FunctionReferenceFromExport<Export> =
  Export extends RegisteredQuery<infer Visibility, infer Args, infer ReturnValue>
    ? FunctionReference<"query", Visibility, Args, ConvertReturnType<ReturnValue>>
    : Export extends RegisteredMutation<infer Visibility, infer Args, infer ReturnValue>
      ? FunctionReference<"mutation", Visibility, Args, ConvertReturnType<ReturnValue>>
      : Export extends RegisteredAction<infer Visibility, infer Args, infer ReturnValue>
        ? FunctionReference<"action", Visibility, Args, ConvertReturnType<ReturnValue>>
        : never;
type FunctionReferencesInModule<Module extends Record<string, any>> = {
  -readonly [ExportName in keyof Module as Module[ExportName]["isConvexFunction"] extends true
    ? ExportName
    : never]: FunctionReferenceFromExport<Module[ExportName]>;
};
type ApiForModule<ModulePath extends string, Module extends object> = ModulePath extends `${infer First}/${infer Second}`
  ? { [_ in First]: ApiForModule<Second, Module> }
  : { [_ in ModulePath]: FunctionReferencesInModule<Module> };
type ExpandModulesAndDirs<ObjectType> = ObjectType extends AnyFunctionReference
  ? ObjectType
  : { [Key in keyof ObjectType]: ExpandModulesAndDirs<ObjectType[Key]> };
/** The tree of function references of an app's modules: `ApiFromModules<{ messages: typeof messages }>`. */
export type ApiFromModules<AllModules extends Record<string, object>> = FilterApi<
  ExpandModulesAndDirs<
    UnionToIntersection<{ [ModulePath in keyof AllModules]: ApiForModule<ModulePath & string, AllModules[ModulePath]> }[keyof AllModules]>
  >,
  FunctionReference<any, any, any, any>
>;
type FilterKeysInApi<Key, API, Predicate> = API extends Predicate
  ? Key
  : API extends FunctionReference<any, any, any, any>
    ? never
    : FilterApi<API, Predicate> extends Record<string, never>
      ? never
      : Key;
/** The part of an API whose references match `Predicate` (`api` = public, `internal` = internal). */
export type FilterApi<API, Predicate> = Expand<{
  [Mod in keyof API as FilterKeysInApi<Mod, API[Mod], Predicate>]: API[Mod] extends Predicate ? API[Mod] : FilterApi<API[Mod], Predicate>;
}>;
type AnyModuleDirOrFunc = { [key: string]: AnyModuleDirOrFunc } & AnyFunctionReference;
export type AnyApi = Record<string, Record<string, AnyModuleDirOrFunc>>;
export declare const anyApi: AnyApi;
export declare function getFunctionName(functionReference: AnyFunctionReference | string): string;
export declare function makeFunctionReference<Type extends FunctionType, Args extends DefaultFunctionArgs = any, Ret = any>(
  name: string,
): FunctionReference<Type, "public", Args, Ret>;
