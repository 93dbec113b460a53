//! Standard encodings of keys: SubjectPublicKeyInfo and PKCS#8 DER. (Placeholder: being written.)
