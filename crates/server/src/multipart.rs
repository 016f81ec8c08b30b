//! `multipart/mixed` statement requests, read as a stream (xAPI 1.0.3 Communication
//! §1.5.2): the first part holds the statements, each further part one attachment's raw
//! content. Attachment parts are hashed as they arrive and spooled to a temporary file
//! once they outgrow a small buffer, so a large attachment never sits whole in memory.

use std::io::Write;
use std::sync::Arc;

use actix_web::web::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use memchr::memmem;
use sha2::{Digest, Sha256};
use store::AttachmentContent;

use crate::ApiError;

/// Attachment content kept in memory up to this size; larger parts go to a file.
const IN_MEMORY_BYTES: usize = 1024 * 1024;

/// The longest header block of one part.
const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Size limits of a multipart request.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The statements part.
    pub statements_bytes: usize,
    /// Each attachment part.
    pub attachment_bytes: u64,
}

/// A parsed multipart request.
#[derive(Debug)]
pub struct Received {
    /// The first part's body: the statements' JSON.
    pub statements: Bytes,
    /// The first part's Content-Type.
    pub statements_content_type: String,
    pub attachments: Vec<ReceivedPart>,
}

/// One attachment part.
#[derive(Debug)]
pub struct ReceivedPart {
    pub headers: Vec<(String, String)>,
    /// SHA-256 of the content as received, lowercase hex.
    pub sha2: String,
    pub length: u64,
    pub content: AttachmentContent,
}

impl ReceivedPart {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// The boundary of a `multipart/mixed` Content-Type (400 when there is none).
pub fn boundary(content_type: &str) -> Result<String, ApiError> {
    let boundary = content_type
        .split(';')
        .skip(1)
        .filter_map(|param| param.split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, value)| value.trim().trim_matches('"').to_string())
        .filter(|b| !b.is_empty() && b.len() <= 70);
    boundary
        .ok_or_else(|| ApiError::bad_request("Content-Type", "multipart/mixed needs a boundary parameter"))
}

fn malformed(message: &str) -> ApiError {
    ApiError::bad_request("", format!("malformed multipart/mixed body: {message}"))
}

/// Reads a whole multipart body from `payload`.
pub async fn read<P, E>(boundary: &str, mut payload: P, limits: Limits) -> Result<Received, ApiError>
where
    P: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut reader = Reader { buffer: BytesMut::new(), payload: &mut payload, done: false };
    let opening = format!("--{boundary}");
    // Transport padding: some clients put a line break before the first boundary.
    loop {
        reader.fill(opening.len() + 2).await?;
        if reader.buffer.starts_with(b"\r\n") {
            let _ = reader.buffer.split_to(2);
        } else {
            break;
        }
    }
    if !reader.buffer.starts_with(opening.as_bytes()) {
        return Err(malformed("the body does not begin with the boundary"));
    }
    let _ = reader.buffer.split_to(opening.len());
    let delimiter = format!("\r\n--{boundary}");
    let finder = memmem::Finder::new(delimiter.as_bytes());

    let mut parts: Vec<(Vec<(String, String)>, Sink)> = Vec::new();
    loop {
        // After a boundary: "--" closes the body, otherwise the line ends and a part begins.
        reader.fill(2).await?;
        if reader.buffer.starts_with(b"--") {
            break;
        }
        reader.skip_line_end().await?;
        let headers = reader.headers().await?;
        let mut sink = if parts.is_empty() {
            Sink::statements(limits.statements_bytes)
        } else {
            Sink::attachment(limits.attachment_bytes)
        };
        // The body runs up to the next delimiter; keep a tail that may be its beginning.
        loop {
            if let Some(at) = finder.find(&reader.buffer) {
                sink.write(&reader.buffer.split_to(at))?;
                let _ = reader.buffer.split_to(delimiter.len());
                break;
            }
            let safe = reader.buffer.len().saturating_sub(delimiter.len() - 1);
            if safe > 0 {
                sink.write(&reader.buffer.split_to(safe))?;
            }
            if !reader.more().await? {
                return Err(malformed("the body ends before its closing boundary"));
            }
        }
        parts.push((headers, sink));
    }

    let mut parts = parts.into_iter();
    let (headers, sink) = parts.next().ok_or_else(|| malformed("there is no statements part"))?;
    let statements_content_type = header(&headers, "content-type").unwrap_or_default().to_string();
    let statements = sink.into_memory();
    let attachments =
        parts.map(|(headers, sink)| sink.into_part(headers)).collect::<Result<Vec<_>, ApiError>>()?;
    Ok(Received { statements, statements_content_type, attachments })
}

struct Reader<'a, P> {
    buffer: BytesMut,
    payload: &'a mut P,
    done: bool,
}

impl<P, E> Reader<'_, P>
where
    P: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    /// Reads one more chunk; false at the end of the body.
    async fn more(&mut self) -> Result<bool, ApiError> {
        if self.done {
            return Ok(false);
        }
        match self.payload.next().await {
            Some(Ok(chunk)) => {
                self.buffer.extend_from_slice(&chunk);
                Ok(true)
            }
            Some(Err(e)) => {
                Err(ApiError::bad_request("", format!("the request body could not be read: {e}")))
            }
            None => {
                self.done = true;
                Ok(false)
            }
        }
    }

    /// Reads until at least `n` bytes are buffered (or the body ends).
    async fn fill(&mut self, n: usize) -> Result<(), ApiError> {
        while self.buffer.len() < n && self.more().await? {}
        Ok(())
    }

    /// Consumes optional whitespace and the line break that ends a boundary line.
    async fn skip_line_end(&mut self) -> Result<(), ApiError> {
        loop {
            self.fill(2).await?;
            match self.buffer.first() {
                Some(b' ' | b'\t') => {
                    let _ = self.buffer.split_to(1);
                }
                _ => break,
            }
        }
        if !self.buffer.starts_with(b"\r\n") {
            return Err(malformed("a boundary is not followed by a line break"));
        }
        let _ = self.buffer.split_to(2);
        Ok(())
    }

    /// Reads a part's header lines up to the blank line.
    async fn headers(&mut self) -> Result<Vec<(String, String)>, ApiError> {
        let end = loop {
            // A part without headers starts with the blank line itself.
            if self.buffer.starts_with(b"\r\n") {
                let _ = self.buffer.split_to(2);
                return Ok(Vec::new());
            }
            if let Some(at) = memmem::find(&self.buffer, b"\r\n\r\n") {
                break at;
            }
            if self.buffer.len() > MAX_HEADER_BYTES {
                return Err(malformed("a part's headers are too long"));
            }
            if !self.more().await? {
                return Err(malformed("a part's headers do not end"));
            }
        };
        let block = self.buffer.split_to(end + 4);
        let text = std::str::from_utf8(&block[..end]).map_err(|_| malformed("a part header is not UTF-8"))?;
        text.split("\r\n")
            .map(|line| {
                let (name, value) =
                    line.split_once(':').ok_or_else(|| malformed("a part header has no colon"))?;
                Ok((name.trim().to_string(), value.trim().to_string()))
            })
            .collect()
    }
}

/// Where a part's body goes while it arrives.
enum Sink {
    /// The statements part, kept in memory up to its limit.
    Statements { bytes: BytesMut, limit: usize },
    /// An attachment: hashed, counted, and spooled to a file past [`IN_MEMORY_BYTES`].
    Attachment {
        hasher: Sha256,
        length: u64,
        limit: u64,
        memory: Vec<u8>,
        file: Option<tempfile::NamedTempFile>,
    },
}

impl Sink {
    fn statements(limit: usize) -> Sink {
        Sink::Statements { bytes: BytesMut::new(), limit }
    }

    fn attachment(limit: u64) -> Sink {
        Sink::Attachment { hasher: Sha256::new(), length: 0, limit, memory: Vec::new(), file: None }
    }

    fn write(&mut self, data: &[u8]) -> Result<(), ApiError> {
        match self {
            Sink::Statements { bytes, limit } => {
                if bytes.len() + data.len() > *limit {
                    return Err(ApiError::PayloadTooLarge(format!(
                        "the statements part is larger than {limit} bytes"
                    )));
                }
                bytes.extend_from_slice(data);
            }
            Sink::Attachment { hasher, length, limit, memory, file } => {
                *length += data.len() as u64;
                if *length > *limit {
                    return Err(ApiError::PayloadTooLarge(format!(
                        "an attachment is larger than {limit} bytes"
                    )));
                }
                hasher.update(data);
                let spool =
                    |e: std::io::Error| ApiError::Internal(format!("cannot spool an attachment: {e}"));
                match file {
                    Some(file) => file.write_all(data).map_err(spool)?,
                    None if memory.len() + data.len() > IN_MEMORY_BYTES => {
                        let mut spooled = tempfile::NamedTempFile::new().map_err(spool)?;
                        spooled.write_all(memory).map_err(spool)?;
                        spooled.write_all(data).map_err(spool)?;
                        *memory = Vec::new();
                        *file = Some(spooled);
                    }
                    None => memory.extend_from_slice(data),
                }
            }
        }
        Ok(())
    }

    fn into_memory(self) -> Bytes {
        match self {
            Sink::Statements { bytes, .. } => bytes.freeze(),
            Sink::Attachment { memory, .. } => Bytes::from(memory),
        }
    }

    fn into_part(self, headers: Vec<(String, String)>) -> Result<ReceivedPart, ApiError> {
        let Sink::Attachment { hasher, length, memory, file, .. } = self else {
            return Err(ApiError::Internal("the statements part is not an attachment".into()));
        };
        let sha2 = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
        let content = match file {
            Some(file) => {
                let flushed = file.into_temp_path();
                AttachmentContent::File(Arc::new(flushed))
            }
            None => AttachmentContent::Memory(Arc::from(memory)),
        };
        Ok(ReceivedPart { headers, sha2, length, content })
    }
}

#[cfg(test)]
mod tests {
    use futures_util::stream;

    use super::*;

    const LIMITS: Limits = Limits { statements_bytes: 1 << 20, attachment_bytes: 8 << 20 };

    /// Feeds `body` in pieces of `piece` bytes, so delimiters straddle chunk edges.
    async fn parse(body: &[u8], piece: usize) -> Result<Received, ApiError> {
        let chunks: Vec<Result<Bytes, std::convert::Infallible>> =
            body.chunks(piece).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        read("abc123", stream::iter(chunks), LIMITS).await
    }

    fn body(parts: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (headers, content) in parts {
            out.extend_from_slice(b"--abc123\r\n");
            out.extend_from_slice(headers.as_bytes());
            out.extend_from_slice(b"\r\n\r\n");
            out.extend_from_slice(content);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"--abc123--\r\n");
        out
    }

    fn memory(content: &AttachmentContent) -> Vec<u8> {
        match content {
            AttachmentContent::Memory(bytes) => bytes.to_vec(),
            AttachmentContent::File(path) => std::fs::read::<&std::path::Path>(path.as_ref()).unwrap(),
        }
    }

    #[actix_web::test]
    async fn parts_are_split_whatever_the_chunking() {
        let content = b"line one\r\nline two --abc12 not a boundary";
        let raw = body(&[
            ("Content-Type: application/json", b"[{\"a\":1}]"),
            (
                "Content-Type:text/plain\r\nX-Experience-API-Hash: h\r\nContent-Transfer-Encoding: binary",
                content,
            ),
        ]);
        for piece in [1, 2, 3, 7, 64, raw.len()] {
            let received = parse(&raw, piece).await.unwrap();
            assert_eq!(&received.statements[..], b"[{\"a\":1}]");
            assert_eq!(received.statements_content_type, "application/json");
            assert_eq!(received.attachments.len(), 1);
            let part = &received.attachments[0];
            assert_eq!(memory(&part.content), content);
            assert_eq!(part.length, content.len() as u64);
            assert_eq!(part.header("content-type"), Some("text/plain"));
            assert_eq!(
                part.sha2,
                Sha256::digest(content).iter().map(|b| format!("{b:02x}")).collect::<String>()
            );
        }
    }

    #[actix_web::test]
    async fn a_leading_line_break_before_the_first_boundary_is_allowed() {
        let mut raw = b"\r\n".to_vec();
        raw.extend(body(&[("Content-Type: application/json", b"{}")]));
        assert_eq!(&parse(&raw, 5).await.unwrap().statements[..], b"{}");
    }

    #[actix_web::test]
    async fn large_attachments_are_spooled_to_a_file() {
        let content = vec![7u8; IN_MEMORY_BYTES + 10];
        let raw = body(&[
            ("Content-Type: application/json", b"{}"),
            ("Content-Type: application/octet-stream", &content),
        ]);
        let received = parse(&raw, 65_536).await.unwrap();
        assert!(matches!(received.attachments[0].content, AttachmentContent::File(_)));
        assert_eq!(memory(&received.attachments[0].content), content);
    }

    #[actix_web::test]
    async fn malformed_bodies_are_rejected() {
        let cases: Vec<Vec<u8>> = vec![
            b"no boundary at all".to_vec(),
            b"--abc123\r\nContent-Type: application/json\r\n\r\n{}".to_vec(),
            b"--abc123\r\nContent-Type application/json\r\n\r\n{}\r\n--abc123--".to_vec(),
            b"--abc123junk\r\n\r\n{}\r\n--abc123--".to_vec(),
            b"--abc123--".to_vec(),
        ];
        for raw in cases {
            let err = parse(&raw, 4).await.unwrap_err();
            assert!(
                matches!(err, ApiError::BadRequest { .. }),
                "{:?}: {err:?}",
                String::from_utf8_lossy(&raw)
            );
        }
    }

    #[actix_web::test]
    async fn parts_over_their_limit_are_413() {
        let limits = Limits { statements_bytes: 10, attachment_bytes: 10 };
        let raw = body(&[("Content-Type: application/json", b"[1,2,3,4,5,6]")]);
        let err =
            read("abc123", stream::iter([Ok::<_, std::convert::Infallible>(Bytes::from(raw))]), limits).await;
        assert!(matches!(err, Err(ApiError::PayloadTooLarge(_))));
        let raw = body(&[("Content-Type: application/json", b"{}"), ("", b"01234567890")]);
        let err =
            read("abc123", stream::iter([Ok::<_, std::convert::Infallible>(Bytes::from(raw))]), limits).await;
        assert!(matches!(err, Err(ApiError::PayloadTooLarge(_))));
    }

    #[test]
    fn the_boundary_comes_from_the_content_type() {
        assert_eq!(boundary("multipart/mixed; boundary=abc").unwrap(), "abc");
        assert_eq!(boundary("multipart/mixed; charset=x; Boundary=\"a b\"").unwrap(), "a b");
        assert!(boundary("multipart/mixed;").is_err());
        assert!(boundary("multipart/mixed").is_err());
    }
}
