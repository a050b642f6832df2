package dev.capsulevm.renter.access;

import java.util.Base64;

/** The text form shared by cards and strings: a prefix, then base64url without padding, canonical. */
final class Text {
  private static final Base64.Encoder ENCODER = Base64.getUrlEncoder().withoutPadding();
  private static final Base64.Decoder DECODER = Base64.getUrlDecoder();

  private Text() {}

  static String encode(String prefix, byte[] bytes) {
    return prefix + ENCODER.encodeToString(bytes);
  }

  /**
   * The bytes after {@code prefix} in {@code text} (which must start with it); {@code what} names the
   * object in errors. A length no complete encoding has is reported as truncated. Spare bits are not
   * checked here: a string cut short often ends in some, and is better called truncated by the caller's
   * layout check; callers finish with {@link #requireCanonical}.
   */
  static byte[] decode(String what, String prefix, String text) throws AccessException {
    String payload = text.substring(prefix.length());
    if (payload.length() % 4 == 1) {
      throw new AccessException(what + " is truncated");
    }
    try {
      return DECODER.decode(payload);
    } catch (IllegalArgumentException e) {
      throw new AccessException(what + " is damaged (not base64url: " + e.getMessage() + ")", e);
    }
  }

  /** Refuses every encoding of {@code bytes} but the one {@link #encode} makes (padding, non-zero spare bits). */
  static void requireCanonical(String what, String prefix, String text, byte[] bytes) throws AccessException {
    if (!text.equals(encode(prefix, bytes))) {
      throw new AccessException(what + " is damaged (not canonical base64url)");
    }
  }
}
