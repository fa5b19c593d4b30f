//! Tests of AES secure messaging and of the cipher-generic building blocks of `sm`.
