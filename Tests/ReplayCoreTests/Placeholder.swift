import Testing
@testable import ReplayCore
