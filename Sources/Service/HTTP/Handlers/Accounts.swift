/// The account-state endpoints of SPEC §6.3. They need the account store (`Sources/Service/Store/`); a stateless
/// service answers 503 `store_unavailable`.
enum Accounts {
    static func stateless(_ req: HTTPRequest, _ context: inout RequestContext) throws(HTTPError) -> HTTPResponse {
        throw .storeUnavailable("this service runs stateless: account state needs the account store")
    }
}
