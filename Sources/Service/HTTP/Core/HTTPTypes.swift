/// An HTTP request as the handlers see it: the socket layer fills it, tests build it by hand.
struct HTTPRequest {
    var method: String
    var path: String
    /// The request headers the service reads.
    var contentType: String?
    var authorization: String?
    var ifNoneMatch: String?
    var body: [UInt8] = []
    /// The body was over the cap and was not kept.
    var bodyTooLarge = false
}

/// An HTTP response: status, body and headers.
struct HTTPResponse {
    var status: Int
    var body: [UInt8]
    var contentType: String? = "application/json"
    var headers: [(String, String)] = []
    /// The error code of an error response (for the request log), without parsing the body back.
    var errorCode: String?

    static func json(_ status: Int, _ value: JSONValue, headers: [(String, String)] = []) -> HTTPResponse {
        HTTPResponse(status: status, body: JSONWriter.serialize(value), headers: headers)
    }
}
