package dev.capsulevm.proofs.capsule;

/**
 * Permission bits recorded per writer in a capsule's metadata: read 1, add 2, admin 16, superadmin 32.
 * Appending needs {@link #ADD}; the other bits are recorded and carried, and nothing checks them yet
 * (the meanings below are what they are reserved for).
 */
public final class Permissions {
  /** May read (and, in a private capsule, receives the capsule key). */
  public static final int READ = 1;
  /** May append records. */
  public static final int ADD = 2;
  /** May add and remove members with at most its own permissions. */
  public static final int ADMIN = 16;
  /** May change any member, admins included. */
  public static final int SUPERADMIN = 32;

  static final int ALL = READ | ADD | ADMIN | SUPERADMIN;

  private Permissions() {}

  /** Whether {@code bits} holds every bit of {@code required}. */
  public static boolean has(int bits, int required) {
    return (bits & required) == required;
  }
}
