// WeCom (企业微信) callback cryptography, as Tencent's "加解密方案说明" and its WXBizMsgCrypt samples
// define it: msg_signature = SHA1 of the sorted token, timestamp, nonce and ciphertext; AES-256-CBC with
// key = Base64(EncodingAESKey + "="), IV = the key's first 16 bytes, PKCS#7 padding to 32-byte blocks;
// plain text = 16 random bytes · 4-byte big-endian length · message · receive id (the corp id).
// Pure functions of their inputs (the random prefix is passed in), so the official vectors test them.
#pragma once

#include <array>
#include <optional>
#include <string>

#include "bot/env.h"

namespace rd {

class WeComCrypto {
 public:
  // False (with `error`) when the EncodingAESKey is not 43 Base64 characters of a 32-byte key.
  static std::optional<WeComCrypto> Create(const std::string& token, const std::string& encoding_aes_key,
                                           const std::string& receive_id, std::string* error);

  // hex(SHA1(sorted(token, timestamp, nonce, encrypted))).
  std::string Signature(const std::string& timestamp, const std::string& nonce, const std::string& encrypted) const;
  // Constant-time comparison of `signature` with the expected one.
  bool Verify(const std::string& signature, const std::string& timestamp, const std::string& nonce,
              const std::string& encrypted) const;
  // The message inside `encrypted` (Base64). Nothing when it is not valid Base64, not whole AES blocks,
  // badly padded, its length field runs past the end, or its receive id is not ours (`error` says which).
  std::optional<std::string> Decrypt(const std::string& encrypted, std::string* error) const;
  // Base64 ciphertext of `message`, with `random16` as the 16-byte random prefix.
  std::string Encrypt(const std::string& message, const std::string& random16) const;

  const std::string& receive_id() const { return receive_id_; }

 private:
  std::string token_;
  std::array<unsigned char, 32> key_{};
  std::string receive_id_;
};

}  // namespace rd
