#ifndef BW_SQL_H
#define BW_SQL_H

/* The SQL compiled into the binaries from sql/ (see cmake/embed_sql.cmake). */

struct bw_sql_migration {
  int version;      /* the schema version this migration brings a database to */
  const char *name; /* file name, for error messages */
  const char *sql;
};

/* The schema version a new database gets and an older one is migrated to. */
extern const int bw_sql_version;
/* The complete current schema, applied to an empty database. */
extern const char bw_sql_schema[];
/* Migrations in ascending order, ending with an entry whose sql is NULL. */
extern const struct bw_sql_migration bw_sql_migrations[];

#endif
