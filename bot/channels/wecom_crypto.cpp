#include "bot/channels/wecom_crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <memory>
#include <vector>

namespace rd {

std::optional<WeComCrypto> WeComCrypto::Create(const std::string& token, const std::string& encoding_aes_key,
                                               const std::string& receive_id, std::string* error) {
  auto key = encoding_aes_key.size() == 43 ? Base64Decode(encoding_aes_key + "=") : std::nullopt;
  if (!key || key->size() != 32) {
    *error = "the WeCom EncodingAESKey must be 43 characters (Base64 of a 32-byte key)";
    return std::nullopt;
  }
  if (token.empty() || receive_id.empty()) {
    *error = "the WeCom token and corp id must not be empty";
    return std::nullopt;
  }
  WeComCrypto c;
  c.token_ = token;
  std::copy(key->begin(), key->end(), c.key_.begin());
  c.receive_id_ = receive_id;
  return c;
}

std::string WeComCrypto::Signature(const std::string& timestamp, const std::string& nonce, const std::string& encrypted) const {
  std::vector<std::string> parts = {token_, timestamp, nonce, encrypted};
  std::sort(parts.begin(), parts.end());
  std::string joined;
  for (const auto& p : parts) joined += p;
  // Algorithms fetched once (see Sha256Hex): by name on every call they cost more than the work.
  static EVP_MD* const sha1 = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(joined.data(), joined.size(), digest, &len, sha1 ? sha1 : EVP_sha1(), nullptr);
  return Hex(digest, len);
}

bool WeComCrypto::Verify(const std::string& signature, const std::string& timestamp, const std::string& nonce,
                         const std::string& encrypted) const {
  const std::string expected = Signature(timestamp, nonce, encrypted);
  return signature.size() == expected.size() && CRYPTO_memcmp(signature.data(), expected.data(), expected.size()) == 0;
}

namespace {

struct CipherCtx {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  ~CipherCtx() { EVP_CIPHER_CTX_free(ctx); }
};

const EVP_CIPHER* Aes256Cbc() {
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr);
  return cipher ? cipher : EVP_aes_256_cbc();
}

}  // namespace

std::optional<std::string> WeComCrypto::Decrypt(const std::string& encrypted, std::string* error) const {
  auto cipher = Base64Decode(encrypted);
  if (!cipher) { *error = "Encrypt is not Base64"; return std::nullopt; }
  if (cipher->empty() || cipher->size() % 32 != 0) { *error = "Encrypt is not whole 32-byte blocks"; return std::nullopt; }
  CipherCtx c;
  std::string plain(cipher->size() + 16, '\0');
  int n1 = 0, n2 = 0;
  // Padding is WeCom's (to 32 bytes), not OpenSSL's (to 16): decrypt raw and unpad below.
  if (!c.ctx || EVP_DecryptInit_ex(c.ctx, Aes256Cbc(), nullptr, key_.data(), key_.data()) != 1 ||
      EVP_CIPHER_CTX_set_padding(c.ctx, 0) != 1 ||
      EVP_DecryptUpdate(c.ctx, reinterpret_cast<unsigned char*>(plain.data()), &n1,
                        reinterpret_cast<const unsigned char*>(cipher->data()), static_cast<int>(cipher->size())) != 1 ||
      EVP_DecryptFinal_ex(c.ctx, reinterpret_cast<unsigned char*>(plain.data()) + n1, &n2) != 1) {
    *error = "AES decryption failed";
    return std::nullopt;
  }
  plain.resize(static_cast<size_t>(n1 + n2));
  const unsigned char pad = static_cast<unsigned char>(plain.back());
  if (pad < 1 || pad > 32 || pad > plain.size()) { *error = "bad padding"; return std::nullopt; }
  for (size_t i = plain.size() - pad; i < plain.size(); ++i) {
    if (static_cast<unsigned char>(plain[i]) != pad) { *error = "bad padding"; return std::nullopt; }
  }
  plain.resize(plain.size() - pad);
  if (plain.size() < 20) { *error = "too short"; return std::nullopt; }
  const auto* p = reinterpret_cast<const unsigned char*>(plain.data()) + 16;
  const size_t length = (size_t{p[0]} << 24) | (size_t{p[1]} << 16) | (size_t{p[2]} << 8) | size_t{p[3]};
  if (length > plain.size() - 20) { *error = "the length field runs past the end"; return std::nullopt; }
  const std::string receive_id = plain.substr(20 + length);
  if (receive_id.size() != receive_id_.size() ||
      CRYPTO_memcmp(receive_id.data(), receive_id_.data(), receive_id_.size()) != 0) {
    *error = "the receive id is not our corp id";
    return std::nullopt;
  }
  return plain.substr(20, length);
}

std::string WeComCrypto::Encrypt(const std::string& message, const std::string& random16) const {
  std::string plain = random16.substr(0, 16);
  plain.resize(16, '0');
  const uint32_t n = static_cast<uint32_t>(message.size());
  plain += static_cast<char>((n >> 24) & 0xFF);
  plain += static_cast<char>((n >> 16) & 0xFF);
  plain += static_cast<char>((n >> 8) & 0xFF);
  plain += static_cast<char>(n & 0xFF);
  plain += message;
  plain += receive_id_;
  const size_t pad = 32 - plain.size() % 32;
  plain.append(pad, static_cast<char>(pad));
  CipherCtx c;
  std::string cipher(plain.size() + 16, '\0');
  int n1 = 0, n2 = 0;
  EVP_EncryptInit_ex(c.ctx, Aes256Cbc(), nullptr, key_.data(), key_.data());
  EVP_CIPHER_CTX_set_padding(c.ctx, 0);
  EVP_EncryptUpdate(c.ctx, reinterpret_cast<unsigned char*>(cipher.data()), &n1,
                    reinterpret_cast<const unsigned char*>(plain.data()), static_cast<int>(plain.size()));
  EVP_EncryptFinal_ex(c.ctx, reinterpret_cast<unsigned char*>(cipher.data()) + n1, &n2);
  cipher.resize(static_cast<size_t>(n1 + n2));
  return Base64Encode(cipher);
}

}  // namespace rd
